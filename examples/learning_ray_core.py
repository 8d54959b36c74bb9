"""The "Learning Ray" walk-through, run on jupyter_raylite's embedded cluster.

Run it with ``python examples/learning_ray_core.py``; every step prints what it measured.
"""

import time

import jupyter_raylite as ray

ray.init(num_cpus=8)

# A tiny "database": the words of the book's title.  Reading entry i costs i/10 seconds.
database = ["Learning", "Ray", "Flexible", "Distributed", "Python", "for", "Machine", "Learning"]


def retrieve(item):
    time.sleep(item / 10.0)
    return item, database[item]


def print_runtime(results, started):
    print(f"Runtime: {time.time() - started:.2f} seconds, data:")
    print(*results, sep="\n")


print("1. One after another (about 0+1+...+7 tenths = 2.8 s):")
start = time.time()
print_runtime([retrieve(item) for item in range(8)], start)


@ray.remote
def retrieve_task(item):
    return retrieve(item)


print("\n2. As eight tasks (about as long as the slowest, 0.7 s):")
start = time.time()
print_runtime(ray.get([retrieve_task.remote(item) for item in range(8)]), start)

print("\n3. The database in the object store, results as they arrive:")
db_ref = ray.put(database)


@ray.remote
def retrieve_task(item, db):  # noqa: F811  (the new version takes the database)
    time.sleep(item / 10.0)
    return item, db[item]


start = time.time()
pending = [retrieve_task.remote(item, db_ref) for item in range(8)]
collected = []
while pending:
    finished, pending = ray.wait(pending, timeout=7.0)
    batch = ray.get(finished)
    print_runtime(batch, start)
    collected.extend(batch)
print_runtime(collected, start)

print("\n4. Tasks that depend on other tasks' results:")


@ray.remote
def follow_up_task(retrieve_result):
    original_item, _ = retrieve_result
    return retrieve_result, retrieve(original_item + 1)


first_refs = [retrieve_task.remote(item, db_ref) for item in [0, 2, 4, 6]]
for pair in ray.get([follow_up_task.remote(ref) for ref in first_refs]):
    print(pair)

print("\n5. An actor counts the database reads the tasks make:")


@ray.remote
class DataTracker:
    def __init__(self):
        self._counts = 0

    def increment(self):
        self._counts += 1

    def counts(self):
        return self._counts


@ray.remote
def retrieve_tracker_task(item, tracker, db):
    time.sleep(item / 10.0)
    tracker.increment.remote()
    return item, db[item]


tracker = DataTracker.remote()
print(ray.get([retrieve_tracker_task.remote(item, tracker, db_ref) for item in range(8)]))
print(ray.get(tracker.counts.remote()))

ray.shutdown()
