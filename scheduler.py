"""The scheduler on its own (production): ``python scheduler.py``.

Reads the NEWSLETTER_* settings, brings the database up to date, waits to lead (a second copy
waits as a standby) and runs the lifecycle tick and retention jobs. See newsletter.schedule.
"""

from newsletter.schedule.runner import main

if __name__ == "__main__":
    main()
