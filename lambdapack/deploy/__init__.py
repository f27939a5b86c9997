"""Deploy to AWS: plan (pure) → execute (through :mod:`lambdapack.deploy.aws`, the only boto3 user).

Library entry points live in :mod:`lambdapack.deploy.deployer` (``deploy``, ``destroy``) and
:mod:`lambdapack.deploy.remote` (``invoke``); this package import stays free of boto3.
"""
