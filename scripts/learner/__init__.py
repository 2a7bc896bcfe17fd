"""The learner's commands: set-up (setup_env), the notebook end to end (run_notebook), demo, film, play."""
