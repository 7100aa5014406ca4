"""dispatch audit: find a logged decision and re-run it on a rule set: does today's answer differ?"""
