resource "aws_sns_topic" "this" {
  for_each = local.topics

  name              = "${var.name_prefix}-${each.key}${local.fifo_suffix}"
  fifo_topic        = var.fifo
  kms_master_key_id = aws_kms_key.messaging.arn
}

# Raw delivery: consumers get the event JSON itself, its attributes as SQS attributes.
resource "aws_sns_topic_subscription" "queue" {
  for_each = local.subscriptions

  topic_arn            = aws_sns_topic.this[each.value.topic].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.source[each.key].arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageAttributes"
  filter_policy        = jsonencode({ event_type = each.value.event_types })
}
