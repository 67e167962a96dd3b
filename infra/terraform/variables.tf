variable "aws_region" {
  description = "Region of every resource; give the roles the same PIXWAVE_AWS_REGION."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Names are <prefix>-events, <prefix>-charge, ...; give the roles the same PIXWAVE_NAME_PREFIX."
  type        = string
  default     = "pixwave"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name_prefix))
    error_message = "The name_prefix must be 1 to 40 letters, digits, '-' or '_', as PIXWAVE_NAME_PREFIX."
  }
}

variable "fifo" {
  description = "FIFO topics and queues (names end in .fifo); give the roles the same PIXWAVE_FIFO."
  type        = bool
  default     = false
}

# The defaults are outbox/topology.py's declaration; tests/unit/test_terraform.py fails
# when the two differ. Seconds throughout.
variable "queues" {
  description = "One SQS queue and its DLQ per consumer, keyed by the consumer's queue name."
  type = map(object({
    visibility_timeout_seconds = number
    retention_seconds          = number
    max_receive_count          = number
    dlq_retention_seconds      = number
  }))
  default = {
    charge = {
      visibility_timeout_seconds = 60
      retention_seconds          = 345600  # 4 days
      max_receive_count          = 15      # the consumer's 12 tries plus 3
      dlq_retention_seconds      = 1209600 # 14 days, the SQS maximum
    }
    webhooks = {
      visibility_timeout_seconds = 30
      retention_seconds          = 345600  # 4 days
      max_receive_count          = 53      # the consumer's 50 tries plus 3
      dlq_retention_seconds      = 1209600 # 14 days, the SQS maximum
    }
  }
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled deletion of the messaging key waits (7 to 30)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
