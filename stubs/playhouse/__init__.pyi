# The parts of peewee's playhouse that Recap uses: peewee ships types for peewee itself only.
