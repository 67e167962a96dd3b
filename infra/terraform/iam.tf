# One policy per role, to attach to whatever identity runs it (an ECS task role, an
# IRSA role, an instance profile). The api and the scheduler call no AWS API and get
# none. docs/deployment.md says what each allows and why.

# pixwave relay: publishes the outbox to the topics, nothing else. It needs
# PIXWAVE_EVENTS_TOPIC_ARN and PIXWAVE_ALERTS_TOPIC_ARN (outputs), since it may not
# list topics to find them.
data "aws_iam_policy_document" "relay" {
  statement {
    sid       = "publish"
    actions   = ["sns:Publish"]
    resources = [for topic in aws_sns_topic.this : topic.arn]
  }

  statement {
    sid       = "encrypted-topics"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.messaging.arn]
  }
}

resource "aws_iam_policy" "relay" {
  name        = "${var.name_prefix}-relay"
  description = "pixwave relay: publish to the ${var.name_prefix} topics"
  policy      = data.aws_iam_policy_document.relay.json
}

# pixwave worker NAME: consumes its own queue; sends poison to its own DLQ (the worker
# copies it there itself, workers/runtime/worker.py) and reads both queues' depth.
data "aws_iam_policy_document" "worker" {
  for_each = var.queues

  statement {
    sid = "consume"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.source[each.key].arn]
  }

  statement {
    sid       = "dead-letter"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.dlq[each.key].arn]
  }

  statement {
    sid       = "encrypted-queues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.messaging.arn]
  }
}

resource "aws_iam_policy" "worker" {
  for_each = var.queues

  name        = "${var.name_prefix}-worker-${each.key}"
  description = "pixwave worker ${each.key}: consume ${var.name_prefix}-${each.key}, dead-letter to its DLQ"
  policy      = data.aws_iam_policy_document.worker[each.key].json
}

# An operator inspecting and redriving DLQs (receive, delete, move back to the source).
data "aws_iam_policy_document" "operator" {
  statement {
    sid = "inspect-and-redrive-dlqs"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListDeadLetterSourceQueues",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
      "sqs:CancelMessageMoveTask",
    ]
    resources = [for queue in aws_sqs_queue.dlq : queue.arn]
  }

  statement {
    sid       = "send-back-to-sources"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [for queue in aws_sqs_queue.source : queue.arn]
  }

  statement {
    sid       = "encrypted-queues"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.messaging.arn]
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name_prefix}-operator"
  description = "pixwave operator: inspect and redrive the ${var.name_prefix} DLQs"
  policy      = data.aws_iam_policy_document.operator.json
}
