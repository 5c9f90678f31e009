"""Types that are the contracts between the control plane and the data plane."""
