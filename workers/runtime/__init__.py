"""The SQS consumer runtime every worker runs on (../shared/DESIGN.md, "Consumers")."""
