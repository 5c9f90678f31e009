"""The control plane: config -> desired resources -> plan (reads only) -> execute (mutates)."""
