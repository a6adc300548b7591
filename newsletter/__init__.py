"""newsletter: the monthly thematic learning bulletin of a safeguarding partnership.

Plan (campaigns/) -> assemble (templates/) -> approve -> schedule -> dispatch -> track -> report.
See README.md for the tour and ../DESIGN notes in docs/.
"""

__version__ = "0.3.0"
