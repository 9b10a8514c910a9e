"""Retraining DAG for mltop's integration tests (tests/support/airflow.rs).

Three trivial tasks, validate_data -> train -> register, each of which only logs the run's
conf: the tests check that a run triggered by mltop carries its conf and reaches `success`.
No schedule, so only triggered runs exist; paused at creation (Airflow's default), so the
tests also see a paused DAG and unpause it.
"""

import logging
from datetime import datetime

from airflow.sdk import dag, get_current_context, task

log = logging.getLogger(__name__)


def _log_conf(step: str) -> dict:
    conf = get_current_context()["dag_run"].conf or {}
    log.info("%s: conf=%s", step, conf)
    return conf


@dag(
    dag_id="recsys_retrain",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["mltop", "retrain"],
    doc_md="Retrain the recsys model when drift is found (mltop test DAG).",
)
def recsys_retrain():
    @task
    def validate_data():
        _log_conf("validate_data")

    @task
    def train():
        _log_conf("train")

    @task
    def register():
        _log_conf("register")

    validate_data() >> train() >> register()


recsys_retrain()
