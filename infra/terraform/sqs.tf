resource "aws_sqs_queue" "source" {
  for_each = var.queues

  name                       = "${var.name_prefix}-${each.key}${local.fifo_suffix}"
  fifo_queue                 = var.fifo
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.retention_seconds
  kms_master_key_id          = aws_kms_key.messaging.arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

resource "aws_sqs_queue" "dlq" {
  for_each = var.queues

  name                      = "${var.name_prefix}-${each.key}-dlq${local.fifo_suffix}"
  fifo_queue                = var.fifo
  message_retention_seconds = each.value.dlq_retention_seconds
  kms_master_key_id         = aws_kms_key.messaging.arn
}

# Only its own source queue may dead-letter into a DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.source[each.key].arn]
  })
}

# SNS may deliver into a queue only from the topics subscribed to it.
resource "aws_sqs_queue_policy" "source" {
  for_each = local.subscriptions

  queue_url = aws_sqs_queue.source[each.key].id
  policy    = data.aws_iam_policy_document.topics_send[each.key].json
}

data "aws_iam_policy_document" "topics_send" {
  for_each = local.subscriptions

  statement {
    sid       = "topics-send"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.source[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this[each.value.topic].arn]
    }
  }
}
