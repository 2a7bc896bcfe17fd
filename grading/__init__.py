"""The class grader's parts, on two sides of a trust boundary.

- inside.py runs INSIDE the sandbox, next to the learner's code: it reports plain data.
- sandbox.py and judge.py run OUTSIDE, in the grader's process: they start the sandbox, read its
  report as untrusted data, and judge it against references computed here.
- grader.py, OUTSIDE too, ties them together: it reads the submissions, grades each graded cell
  with them, and writes the results (records.py: what each was made from).

Two commands grade with grader.py: __main__.py, python -m grading (make grade), and gradescope.py,
Gradescope's autograder.
"""
