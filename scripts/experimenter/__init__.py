"""The experimenter's commands: compare settings over seeds (compare), on one machine or a Ray cluster."""
