# PixWave's SNS/SQS topology on AWS: the resources `pixwave topology apply` creates
# from outbox/topology.py, plus what only AWS enforces (encryption, IAM).

locals {
  # outbox/topology.py resource_name(): "<prefix>-<base>", and ".fifo" on FIFO.
  fifo_suffix = var.fifo ? ".fifo" : ""

  # app/domain/events.py Topic: every event goes to "events", operator alerts to "alerts".
  topics = toset(["events", "alerts"])

  # Which events each queue receives, keyed by queue (outbox/topology.py CHARGE_EVENTS
  # and WEBHOOK_EVENTS, sorted as the filter policy lists them).
  subscriptions = {
    charge = {
      topic = "events"
      event_types = [
        "payment_intent.canceled",
        "payment_intent.capture_requested",
        "payment_intent.created",
        "payout.created",
        "refund.created",
      ]
    }
    webhooks = {
      topic = "events"
      event_types = [
        "balance.available",
        "payment_intent.amount_capturable_updated",
        "payment_intent.amount_refunded_updated",
        "payment_intent.canceled",
        "payment_intent.created",
        "payment_intent.payment_failed",
        "payment_intent.processing",
        "payment_intent.requires_action",
        "payment_intent.succeeded",
        "payout.canceled",
        "payout.created",
        "payout.failed",
        "payout.paid",
        "refund.created",
        "refund.failed",
        "refund.succeeded",
      ]
    }
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
