#!/usr/bin/env bash
# The guide "Serving a Machine Learning Model with AWS Lambda", step by step, with lambdapack.
# Runs locally (no AWS account): every step's artifact lands in dist/ and build/.
set -euo pipefail

# 1. The layer: manylinux wheels of scikit-learn for python3.12 x86_64, unpacked into
#    python/lib/python3.12/site-packages, dist-info stripped, slimmed, checked, zipped.
lambdapack build-layer --runtime python3.12 --arch x86_64 -r "$(dirname "$0")/requirements.txt"

# 2. The model: the guide's iris RandomForest, trained inside the layer's own Python and
#    libraries so the pickle and the layer agree by construction.
lambdapack train --layer dist/layer-python3.12-x86_64.zip

# 3. The function: handler + model.joblib + model.json, checked against the layer.
lambdapack package --layer dist/layer-python3.12-x86_64.zip

#    The guide's test event, in the local Lambda (the layer's Python, the real runtime client).
lambdapack invoke --local --event seed --repeat 3

# 4. API Gateway: what a deploy would create (needs AWS credentials to apply).
if aws_ok=$(python -c "import boto3; print(bool(boto3.Session().get_credentials()))") && [ "$aws_ok" = True ]; then
  lambdapack deploy --name iris --dry-run
else
  echo "no AWS credentials: skipping 'lambdapack deploy --name iris --dry-run'" >&2
fi
