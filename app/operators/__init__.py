"""Operator tooling over boto3: `pixwave dlq …` and `pixwave queues …`."""
