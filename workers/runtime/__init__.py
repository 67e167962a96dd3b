"""The SQS consumer runtime every worker runs on (DESIGN.md, "Consumers")."""
