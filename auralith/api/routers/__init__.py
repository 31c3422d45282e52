"""One router per resource: jobs, the cluster (queues, workers, health), the dashboard's pages."""
