import threading

import numpy as np

from ganterm.channel.control import Control
from ganterm.channel.feed import Feed, SampleFrame
from ganterm.channel.history import METRIC_COLUMNS


def test_read_since_returns_only_new_things():
    feed = Feed()
    v0 = feed.read().version
    feed.event("swap", "loss ns -> hinge", step=5)
    feed.publish(np.array([1, 2]), np.zeros((2, len(METRIC_COLUMNS))), step=2)
    u = feed.read(v0)
    assert [e.kind for e in u.events] == ["swap"] and u.history_changed and u.snapshot.step == 2
    again = feed.read(u.version)
    assert again.events == [] and not again.history_changed and again.samples is None
    frame = SampleFrame(2, "images", np.zeros((4, 8, 8, 1), np.uint8))
    feed.publish_samples(frame)
    u2 = feed.read(u.version)
    assert u2.samples is frame and not u2.history_changed


def test_concurrent_writer_and_reader():
    feed = Feed()
    n = 2000

    def writer():
        for i in range(n):
            feed.publish(np.array([i + 1]), np.full((1, len(METRIC_COLUMNS)), i, np.float32), step=i + 1)

    t = threading.Thread(target=writer)
    t.start()
    seen = 0
    while t.is_alive() or seen < n:
        u = feed.read(0)
        seen = u.snapshot.step
        s = feed.series("d_loss")
        assert len(s.x) == len(s.mean)
    t.join()
    assert feed.series("d_loss").x[-1] == n


def test_control_queue_and_stop_event():
    c = Control()
    c.pause()
    c.swap_loss("hinge")
    cmds = c.drain()
    assert [x.name for x in cmds] == ["pause", "swap_loss"] and cmds[1].args == {"name": "hinge"}
    assert c.wait(0.01) is None
    c.stop()
    assert c.stop_event.is_set() and c.drain()[0].name == "stop"
