// Evaluates AWS requests against IAM policies the way IAM does, for ppdw's tests.
//
// Protocol: one JSON object per line on stdin, one answer per line on stdout, in order.
//   {"op": "policies", "id": "lambda-role", "principal": ARN, "account": ID,
//    "identity": [{"name", "policy"}], "resources": {"s3": POLICY}}
//       registers a principal and the policies that apply to it; answers {"ok": true}.
//   {"op": "check", "policies": ID, "action": "s3:GetObject", "resource": ARN,
//    "context": {"s3:prefix": "raw/"}}
//       answers {"decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "error",
//                "errors": ...}. An error means the request itself is not valid for IAM
//       (unknown action, an ARN that is no resource type of the action, a context key the
//       action does not take), which is a fault of the caller's mapping.
import readline from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const sets = new Map()

async function check(message) {
  const set = sets.get(message.policies)
  if (!set) return { decision: 'error', errors: `no policies registered as ${message.policies}` }
  const service = message.action.split(':')[0].toLowerCase()
  const simulation = {
    identityPolicies: set.identity,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: set.resources?.[service],
    request: {
      principal: set.principal,
      action: message.action,
      resource: { resource: message.resource, accountId: set.account },
      // boto3 always calls over TLS: bucket policies that deny plain HTTP must not apply.
      contextVariables: { 'aws:SecureTransport': 'true', ...(message.context ?? {}) },
    },
  }
  const result = await runSimulation(simulation, {})
  if (result.resultType === 'error') return { decision: 'error', errors: result.errors }
  return { decision: result.overallResult }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let answer
  try {
    const message = JSON.parse(line)
    if (message.op === 'policies') {
      sets.set(message.id, message)
      answer = { ok: true }
    } else {
      answer = await check(message)
    }
  } catch (error) {
    answer = { decision: 'error', errors: String(error?.stack ?? error) }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
