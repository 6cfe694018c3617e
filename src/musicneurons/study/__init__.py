"""The study pipeline: stages that write artifacts, figure plans, the summary and the HTML report."""
