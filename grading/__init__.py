"""The class grader's parts, on two sides of a trust boundary.

- inside.py runs INSIDE the sandbox, next to the learner's code: it reports plain data.
- sandbox.py and judge.py run OUTSIDE, in the grader's process: they start the sandbox, read its
  report as untrusted data, and judge it against references computed here.

__main__.py is the command that ties them together: python -m grading (make grade).
"""
