"""Running the service: settings from the environment, metrics, logs, and gunicorn's configuration."""
