#!/usr/bin/env bash
# LocalStack init hook (copy into /etc/localstack/init/ready.d/): LocalStack runs it once
# SNS/SQS are ready; it creates PixWave's topics, queues and subscriptions.
set -euo pipefail
if ! command -v pixwave >/dev/null 2>&1; then
  echo "10-pixwave-topology.sh: 'pixwave' is not on PATH; cannot apply the topology" >&2
  exit 1
fi
exec pixwave topology apply --endpoint-url http://localhost:4566
