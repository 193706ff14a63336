#!/bin/bash
# Elastic Beanstalk, Python platform: give the staged app its default model
# (trained files are never committed, and the service refuses to start without one).
#
# EB runs predeploy hooks as root, with the staging directory (/var/app/staging)
# as the working directory, after it has pip-installed requirements.txt into the
# app's virtualenv (/var/app/venv/<name>) and before it moves the app to
# /var/app/current and starts the Procfile. Prebuild would be too early: it runs
# before the dependencies are installed, so scikit-learn is not there yet on a
# new instance.
#
# On the Docker platform the image trains its own model and the host has no app
# virtualenv: nothing to do there.
set -euo pipefail

shopt -s nullglob
venvs=(/var/app/venv/*/bin/python)
if (( ${#venvs[@]} == 0 )); then
    echo "01_train_model: no app virtualenv under /var/app/venv (not the Python platform); nothing to do"
    exit 0
fi

"${venvs[0]}" -m training --out models/iris --if-missing
