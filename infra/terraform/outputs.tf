output "events_topic_arn" {
  description = "PIXWAVE_EVENTS_TOPIC_ARN of the relay."
  value       = aws_sns_topic.this["events"].arn
}

output "alerts_topic_arn" {
  description = "PIXWAVE_ALERTS_TOPIC_ARN of the relay; subscribe operators' alerting here."
  value       = aws_sns_topic.this["alerts"].arn
}

output "queue_urls" {
  description = "Source queue URLs by consumer."
  value       = { for name, queue in aws_sqs_queue.source : name => queue.url }
}

output "dlq_urls" {
  description = "DLQ URLs by consumer."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.url }
}

output "kms_key_arn" {
  description = "The key encrypting the topics and queues."
  value       = aws_kms_key.messaging.arn
}

output "relay_policy_arn" {
  description = "Attach to the relay's role."
  value       = aws_iam_policy.relay.arn
}

output "worker_policy_arns" {
  description = "Attach each to the role of `pixwave worker <name>`."
  value       = { for name, policy in aws_iam_policy.worker : name => policy.arn }
}

output "operator_policy_arn" {
  description = "Attach to the role operators use for DLQ inspection and redrive."
  value       = aws_iam_policy.operator.arn
}
