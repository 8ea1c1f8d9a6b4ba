# Sentinel Batch flows image: the Prefect flows + `sentinel` CLI. One image for flow-run Jobs
# (`prefect flow-run execute`, set by the worker), the Prefect workers (`prefect worker start ...`,
# prefect-kubernetes is a project dependency) and the S3 event bridge (`sentinel bridge ...`).
#
#   docker build -f deployments/flows.Dockerfile -t sentinel-flows:dev .   (context: repository root)
#
# The source tree is kept at /opt/sentinel (WORKDIR): deployments that run code baked into the image
# use `pull: [{prefect.deployments.steps.set_working_directory: {directory: /opt/sentinel}}]` with
# entrypoints like flows/translate_batch.py:translate_batch. The work pool templates are at
# /opt/sentinel/deployments/work_pools/ (the workers create missing pools from them).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --uid 1000 --user-group --create-home --home-dir /home/sentinel sentinel

WORKDIR /opt/sentinel
COPY pyproject.toml README.md ./
COPY flows ./flows
COPY tasks ./tasks
COPY blocks ./blocks
COPY deployments ./deployments
# pip compiles the installed packages' bytecode; the source tree is compiled here. Without .pyc
# files every flow-run pod would compile Prefect, pandas, GE, ... from source on each start
# (PYTHONDONTWRITEBYTECODE: nothing is written at run time, the user cannot anyway).
RUN pip install . \
 && find /opt/sentinel -name __pycache__ -type d -prune -exec rm -rf {} + \
 && python -m compileall -q flows tasks blocks deployments

USER 1000:1000
# No ENTRYPOINT: Kubernetes `args` (worker, bridge, flow-run command) become the command.
CMD ["sentinel", "--help"]
