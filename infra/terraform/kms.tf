# One customer-managed key encrypts the topics and the queues. SNS needs it to write
# into encrypted queues; the roles get only the key uses their calls need (iam.tf).
resource "aws_kms_key" "messaging" {
  description             = "${var.name_prefix}: SNS topics and SQS queues"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.messaging_key.json
}

resource "aws_kms_alias" "messaging" {
  name          = "alias/${var.name_prefix}-messaging"
  target_key_id = aws_kms_key.messaging.key_id
}

data "aws_iam_policy_document" "messaging_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key alone; the account statement is AWS's default, which lets IAM policies grant the key at all.
  #checkov:skip=CKV_AWS_111:Same: "*" in a key policy means this key, and only the account itself gets administrative use.
  #checkov:skip=CKV_AWS_356:Same: a key policy cannot name its own key's ARN (it does not exist yet); "*" means this key.
  statement {
    sid       = "account-grants-through-iam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "sns-writes-into-encrypted-queues"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}
