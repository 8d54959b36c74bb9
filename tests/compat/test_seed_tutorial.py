"""The "Learning Ray" example's task parts give the outputs the tutorial shows."""

from __future__ import annotations

import time

from meeting import meet

NUM_CPUS = 8  # the tutorial's parallel step runs eight tasks at once

DATABASE = ["Learning", "Ray", "Flexible", "Distributed", "Python", "for", "Machine", "Learning"]
EXPECTED = list(enumerate(DATABASE))


def retrieve(item, db=DATABASE):
    time.sleep(item / 10.0)
    return item, db[item]


def test_seed_parallel_retrieve_runs_the_eight_tasks_at_once(ray_impl, tmp_path):
    @ray_impl.remote
    def retrieve_task(item, meeting_place):
        # Each task waits for the other seven before it retrieves: only eight tasks running at
        # once all get past this.  (How fast they are is benchmarks/' business.)
        return meet(meeting_place, 8), retrieve(item)

    results = ray_impl.get([retrieve_task.remote(item, str(tmp_path)) for item in range(8)])
    assert [met for met, _ in results] == [True] * 8
    assert [tuple(d) for _, d in results] == EXPECTED


def test_seed_wait_loop_with_object_store_database(ray_impl):
    db_object_ref = ray_impl.put(DATABASE)

    @ray_impl.remote
    def retrieve_task(item, db):
        time.sleep(item / 10.0)
        return item, db[item]

    object_references = [retrieve_task.remote(item, db_object_ref) for item in range(8)]
    all_data, rounds = [], 0
    while len(object_references) > 0:
        finished, object_references = ray_impl.wait(object_references, timeout=7.0)
        all_data.extend(ray_impl.get(finished))
        rounds += 1
    # Each item arrives once, in whatever order the tasks finish (on a busy machine a short
    # task may finish after a long one); wait hands them over in more than one round.
    assert sorted(tuple(d) for d in all_data) == EXPECTED
    assert 1 < rounds <= 8


def test_seed_follow_up_tasks_receive_the_first_results(ray_impl):
    db_object_ref = ray_impl.put(DATABASE)

    @ray_impl.remote
    def retrieve_task(item, db):
        return retrieve(item, db)

    @ray_impl.remote
    def follow_up_task(retrieve_result):
        original_item, _ = retrieve_result
        follow_up_result = retrieve(original_item + 1)
        return retrieve_result, follow_up_result

    retrieve_refs = [retrieve_task.remote(item, db_object_ref) for item in [0, 2, 4, 6]]
    follow_up_refs = [follow_up_task.remote(ref) for ref in retrieve_refs]
    results = [(tuple(a), tuple(b)) for a, b in ray_impl.get(follow_up_refs)]
    assert results == [((0, "Learning"), (1, "Ray")), ((2, "Flexible"), (3, "Distributed")),
                       ((4, "Python"), (5, "for")), ((6, "Machine"), (7, "Learning"))]
