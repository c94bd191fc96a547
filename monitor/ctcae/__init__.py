"""CTCAE v5.0: the NCI term table and (later) lab grading criteria."""
