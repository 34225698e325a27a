#!/usr/bin/env python3
"""Checks that template.yaml and the workspace agree, and that every function and queue keeps
the rules of design §1 and §4 that cfn-lint cannot know about. Exits non-zero on any failure."""
import json
import os
import pathlib
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from queues import CfnLoader  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
resources = template["Resources"]
globals_fn = template.get("Globals", {}).get("Function", {})
failures = []
passed = 0


def check(ok, message):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(message)


def logical_of(ref):
    """!GetAtt X.Arn / !Ref X -> X."""
    if isinstance(ref, dict):
        value = ref.get("GetAtt") or ref.get("Ref")
        if isinstance(value, list):
            return value[0]
        return str(value).split(".")[0]
    return None


crates = sorted(p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml"))
functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
binaries = {fn["Metadata"]["BuildProperties"]["Binary"]: name for name, fn in functions.items()}
for crate in crates:
    check(crate in binaries, f"functions/{crate} has no template function with Binary: {crate}")

for name, fn in functions.items():
    props = fn["Properties"]
    meta = fn.get("Metadata", {})
    get = lambda key: props.get(key, globals_fn.get(key))  # noqa: E731
    check(meta.get("BuildMethod") == "rust-cargolambda", f"{name}: BuildMethod must be rust-cargolambda")
    check(meta.get("BuildProperties", {}).get("Binary") in crates, f"{name}: Binary names no crate in functions/")
    check(props.get("CodeUri") == "./", f"{name}: CodeUri must be the workspace root")
    check(get("Runtime") == "provided.al2023", f"{name}: Runtime must be provided.al2023")
    check(get("Architectures") == ["arm64"], f"{name}: Architectures must be [arm64]")
    check((get("LoggingConfig") or {}).get("LogFormat") == "JSON", f"{name}: LogFormat must be JSON")
    timeout = int(get("Timeout"))
    reserved = props.get("ReservedConcurrentExecutions")
    sqs_events = [e for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
    for event in sqs_events:
        ev = event["Properties"]
        queue = resources[logical_of(ev["Queue"])]["Properties"]
        check(ev.get("BatchSize") == 10, f"{name}: BatchSize must be 10")
        check("ReportBatchItemFailures" in ev.get("FunctionResponseTypes", []),
              f"{name}: ReportBatchItemFailures must be on, or partial batch responses are ignored")
        max_conc = ev.get("ScalingConfig", {}).get("MaximumConcurrency")
        check(max_conc is not None and max_conc == reserved,
              f"{name}: ScalingConfig.MaximumConcurrency must be set and equal ReservedConcurrentExecutions")
        check(int(queue["VisibilityTimeout"]) >= 6 * timeout,
              f"{name}: queue visibility timeout must be >= 6 x the function timeout ({6 * timeout})")
    env = props.get("Environment", {}).get("Variables", {})
    if sqs_events:
        check("DEAD_LETTER_QUEUE_URL" in env, f"{name}: DEAD_LETTER_QUEUE_URL must be set")

# The orchestrator: one schedule per task plus the push-channel renewal, sending only to the
# four task queues.
TASKS = ["calendar-sync", "calendar-full-sync", "schedule-task", "unified-schedule"]
FAN_OUTS = TASKS + ["renew-watch-channels"]
task_queues = {
    name for name, res in resources.items()
    if res["Type"] == "AWS::SQS::Queue" and res["Properties"].get("RedrivePolicy")
}
orchestrator = functions.get(binaries.get("orchestrator"), {}).get("Properties", {})
check(bool(orchestrator), "the orchestrator function is missing")
fanned_out = []
for event in orchestrator.get("Events", {}).values():
    if event["Type"] != "ScheduleV2":
        continue
    ev = event["Properties"]
    task = json.loads(ev["Input"]).get("fan_out")
    fanned_out.append(task)
    check("<aws.scheduler.scheduled-time>" in ev["Input"],
          f"schedule {task}: scheduled_at must be the scheduled time (the deduplication tick)")
    check("RetryPolicy" in ev and "DeadLetterConfig" in ev,
          f"schedule {task}: needs a retry policy and a dead-letter queue")
    if task == "renew-watch-channels":
        check(ev.get("State") == {"If": ["HasPushNotifications", "ENABLED", "DISABLED"]},
              "schedule renew-watch-channels: must run exactly when PushNotifications is on")
check(sorted(fanned_out) == sorted(FAN_OUTS), f"orchestrator schedules {fanned_out} must be exactly {FAN_OUTS}")
check(orchestrator.get("ReservedConcurrentExecutions") == len(FAN_OUTS),
      "orchestrator: one concurrent invocation per schedule")
sent_to = set()
for policy in orchestrator.get("Policies", []):
    if "AWSSecretsManagerGetSecretValuePolicy" in policy:
        continue  # the database URL's secret, checked with every function's below
    check(list(policy) == ["SQSSendMessagePolicy"], f"orchestrator: unexpected policy {list(policy)}")
    sent_to.add(logical_of(policy.get("SQSSendMessagePolicy", {}).get("QueueName")))
check(sent_to == task_queues, f"orchestrator may send to the task queues only, got {sorted(sent_to)}")
for task in TASKS:
    var = task.replace("-", "_").upper() + "_QUEUE_URL"
    check(var in orchestrator.get("Environment", {}).get("Variables", {}), f"orchestrator: {var} must be set")

for name, res in resources.items():
    if res["Type"] != "AWS::SQS::Queue":
        continue
    props = res["Properties"]
    check(props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, f"{name}: must be encrypted")
    if name == "SchedulerDeadLetterQueue":
        continue
    check(props.get("FifoQueue") is True, f"{name}: must be FIFO")
    redrive = props.get("RedrivePolicy")
    if redrive:
        check(props.get("ContentBasedDeduplication") is True,
              f"{name}: content-based deduplication must be on (EventBridge Scheduler targets need it)")
    if redrive:
        dlq = resources[logical_of(redrive["deadLetterTargetArn"])]["Properties"]
        check(int(redrive["maxReceiveCount"]) == 5, f"{name}: maxReceiveCount must be 5")
        check(dlq.get("FifoQueue") is True, f"{name}: its DLQ must be FIFO")
    elif not name.endswith("DeadLetterQueue"):
        failures.append(f"{name}: a source queue needs a RedrivePolicy")

# Every queue the code names exists, and every DLQ and task queue has its alarms.
for task in TASKS:
    var = task.replace("-", "_").upper() + "_QUEUE_URL"
    names = [res["Properties"].get("QueueName") for res in resources.values() if res["Type"] == "AWS::SQS::Queue"]
    check(any(isinstance(n, dict) and n.get("Sub", "").endswith(f"-{task}.fifo") for n in names),
          f"no queue named <stack>-{task}.fifo for {var}")
alarmed = {}
for name, res in resources.items():
    if res["Type"] == "AWS::CloudWatch::Alarm":
        props = res["Properties"]
        for dim in props.get("Dimensions", []):
            alarmed.setdefault(logical_of(dim["Value"]), set()).add(props["MetricName"])
for name, res in resources.items():
    if res["Type"] != "AWS::SQS::Queue":
        continue
    if name.endswith("DeadLetterQueue"):
        check("ApproximateNumberOfMessagesVisible" in alarmed.get(name, set()), f"{name}: needs a depth alarm")
    else:
        check("ApproximateAgeOfOldestMessage" in alarmed.get(name, set()), f"{name}: needs an oldest-message alarm")

# Every task has a failure-rate alarm on the metrics its runner writes (design §12), in the
# namespace the code writes them to.
namespace = re.search(r'pub const NAMESPACE: &str = "([^"]+)"', (ROOT / "shared/src/jobs/metrics.rs").read_text()).group(1)
for task in TASKS:
    rated = [
        res for res in resources.values()
        if res["Type"] == "AWS::CloudWatch::Alarm"
        and any(q.get("MetricStat", {}).get("Metric", {}).get("Namespace") == namespace
                and {"Name": "Task", "Value": task} in q["MetricStat"]["Metric"].get("Dimensions", [])
                and q["MetricStat"]["Metric"].get("MetricName") == "Runs"
                for q in res["Properties"].get("Metrics", []))
    ]
    check(len(rated) == 1, f"{task}: needs one failure-rate alarm on {namespace}/Runs")

# Least privilege (design §1): each worker may poll only its own queue and send only to its
# own DLQ (and, for the sync workers that continue in a new message, its own queue). No
# function has inline statements, managed policies or a role of its own. Secrets are read at
# init (design §14.4): a function's environment names them (`*_SECRET_ID`, never a value) and
# it may read exactly the secrets it names.
SELF_CONTINUING = {"calendar-sync", "calendar-full-sync"}
SECRET_POLICY = "AWSSecretsManagerGetSecretValuePolicy"


def secret_policies(policies):
    """The secret ARNs a function's policies grant (unwrapping `!If [cond, policy, NoValue]`)."""
    for policy in policies:
        if "If" in policy:
            policy = policy["If"][1]
        if SECRET_POLICY in policy:
            yield json.dumps(policy[SECRET_POLICY]["SecretArn"])


def secret_names(variables):
    """The template parameters a function's `*_SECRET_ID` variables name."""
    for key, value in {**globals_fn.get("Environment", {}).get("Variables", {}), **variables}.items():
        if key.endswith("_SECRET_ID"):
            if isinstance(value, dict) and "If" in value:
                value = value["If"][1]
            yield logical_of(value)


for name, fn in functions.items():
    props = fn["Properties"]
    binary = fn["Metadata"]["BuildProperties"]["Binary"]
    check("Role" not in props, f"{name}: must not bring its own role")
    variables = props.get("Environment", {}).get("Variables", {})
    granted = sorted(secret_policies(props.get("Policies", [])))
    named = sorted(set(secret_names(variables)))
    check(len(granted) == len(named) and all(any("${" + n + "}" in g for g in granted) for n in named),
          f"{name}: may read exactly the secrets its environment names ({named}), got {granted}")
    for key, value in variables.items():
        check(not re.search(r"SECRET$|MASTER_KEY$|DATABASE_URL$", key), f"{name}: {key} must be read at init (as {key}_SECRET_ID)")
    policies = [p for p in props.get("Policies", []) if "If" not in p and SECRET_POLICY not in p]
    kinds = sorted({kind for policy in policies for kind in policy})
    if binary == "orchestrator":
        continue
    if binary == "calendar-webhook":
        # Public by design (Google cannot sign its requests); it only sends syncs.
        check(props.get("FunctionUrlConfig", {}).get("AuthType") == "NONE",
              f"{name}: needs a Function URL with AuthType NONE")
        sent = {logical_of(p["SQSSendMessagePolicy"]["QueueName"]) for p in policies if "SQSSendMessagePolicy" in p}
        check(kinds == ["SQSSendMessagePolicy"] and sent == {"CalendarSyncQueue"},
              f"{name}: may only send to CalendarSyncQueue, got {kinds} {sorted(sent)}")
        check(not props.get("Events"), f"{name}: is invoked through its URL only")
        outputs = template.get("Outputs", {}).values()
        check(any(logical_of(o.get("Value")) == f"{name}Url" for o in outputs), f"{name}: its URL must be an output")
        for synced in ("calendar-sync", "calendar-full-sync"):
            variables = functions[binaries[synced]]["Properties"]["Environment"]["Variables"]
            check(json.dumps(variables.get("WEBHOOK_URL", "")).find(f"{name}Url") >= 0,
                  f"{synced}: WEBHOOK_URL must be {name}'s URL (when push is on)")
        continue
    check(kinds == ["SQSPollerPolicy", "SQSSendMessagePolicy"],
          f"{name}: may only have SQSPollerPolicy and SQSSendMessagePolicy, got {kinds}")
    sqs_events = [e for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
    own_queue = logical_of(sqs_events[0]["Properties"]["Queue"]) if sqs_events else None
    own_dlq = logical_of(props.get("Environment", {}).get("Variables", {}).get("DEAD_LETTER_QUEUE_URL"))
    polled = {logical_of(p["SQSPollerPolicy"]["QueueName"]) for p in policies if "SQSPollerPolicy" in p}
    sent = {logical_of(p["SQSSendMessagePolicy"]["QueueName"]) for p in policies if "SQSSendMessagePolicy" in p}
    check(polled == {own_queue}, f"{name}: may poll only {own_queue}, got {sorted(polled)}")
    allowed = {own_dlq, own_queue} if binary in SELF_CONTINUING else {own_dlq}
    check(own_dlq in sent and sent <= allowed, f"{name}: may send only to {sorted(allowed)}, got {sorted(sent)}")
text = (ROOT / "template.yaml").read_text()
check("DATABASE_URL" not in globals_fn.get("Environment", {}).get("Variables", {}), "Globals: DATABASE_URL must be read at init")
check("{{resolve:secretsmanager" not in text, "template resolves a secret into a function's configuration at deploy")
for forbidden in ["secretsmanager:GetSecretValue", "ssm:GetParameter", "Resource: '*'", 'Resource: "*"', "Action: '*'", 'Action: "*"']:
    check(forbidden not in text, f"template grants {forbidden}")

for failure in failures:
    print(f"FAIL {failure}")
print(f"template: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
