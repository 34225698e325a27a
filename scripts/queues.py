#!/usr/bin/env python3
"""Create, on the local SQS server, every queue that template.yaml declares, with the same
attributes (FIFO, deduplication, visibility timeout, retention, redrive to the DLQ).

Reads the template rather than repeating it, so the local stack cannot drift from what is
deployed. Prints `export NAME=URL` lines: <TASK>_QUEUE_URL and <TASK>_DLQ_URL per task.
Idempotent: CreateQueue with identical attributes returns the existing queue.
"""
import json
import os
import sys

import boto3
import yaml

STACK = os.environ.get("LOCAL_STACK_NAME", "tuturuuu-jobs")


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Sub, !GetAtt, !Ref) as {tag: value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def resolve_name(value):
    if isinstance(value, dict) and "Sub" in value:
        return value["Sub"].replace("${AWS::StackName}", STACK)
    if isinstance(value, str):
        return value
    sys.exit(f"queues.py: cannot resolve QueueName {value!r}")


def env_name(queue_name):
    """tuturuuu-jobs-schedule-task-dlq.fifo -> SCHEDULE_TASK_DLQ_URL."""
    base = queue_name[len(STACK) + 1 :].removesuffix(".fifo")
    if base == "scheduler-dlq":
        return "SCHEDULER_DEAD_LETTER_URL"
    if base.endswith("-dlq"):
        return base[: -len("-dlq")].replace("-", "_").upper() + "_DLQ_URL"
    return base.replace("-", "_").upper() + "_QUEUE_URL"


def main():
    template_path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    with open(template_path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=CfnLoader)
    queues = {
        logical: resource.get("Properties", {})
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    sqs = boto3.client("sqs")
    urls, arns = {}, {}

    def create(logical):
        if logical in urls:
            return
        props = queues[logical]
        attributes = {}
        for key in ("FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "SqsManagedSseEnabled",
                    "MessageRetentionPeriod", "DelaySeconds", "DeduplicationScope",
                    "FifoThroughputLimit"):
            if key in props:
                value = props[key]
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["GetAtt"]
            target = target.split(".")[0] if isinstance(target, str) else target[0]
            create(target)
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        name = resolve_name(props["QueueName"])
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except sqs.exceptions.QueueNameExists:
            # The template changed since the queue was made: bring it up to date in place.
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            settable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            sqs.set_queue_attributes(QueueUrl=url, Attributes=settable)
        urls[logical] = url
        arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        print(f"export {env_name(name)}={url}")

    for logical in queues:
        create(logical)


if __name__ == "__main__":
    main()
