"""Old import paths kept working: `from auralith.workflow.tasks import run_job` (now auralith.worker.tasks)."""
