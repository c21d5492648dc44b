"""The live engine: slots on the avatar's loop, audio placement, idle/held frames, bounded queues, errors; and
the same frames as offline when every frame is rendered from complete audio.

Most cases use the stub renderer and instant windows (no model work), so they are about the engine's
bookkeeping; timing is never asserted beyond "never earlier than the clock".
"""
from __future__ import annotations

import threading
import time
from fractions import Fraction

import numpy as np
import pytest
from live_helpers import InstantWindows, SlowStub, avatar_with
from odd_media import StubRenderer

from musetalk.avatar import Avatar
from musetalk.config import InferenceConfig, SilenceConfig
from musetalk.errors import InputError
from musetalk.live import LiveConfig, LiveDropped, LiveOverflow, LiveSession
from musetalk.live.timeline import Rate, Utterance
from musetalk.sources import pingpong

SPF = 640  # samples per frame at 25 fps
ROOMY = LiveConfig(out_frames=1000)  # paced cases that count every frame: a starved test thread must not skip any


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture()
def stub_avatar(tiny_models, live_avatar_dir):
    return avatar_with(StubRenderer(tiny_models), tiny_models, live_avatar_dir)


def push_chunks(session: LiveSession, wav: np.ndarray, chunk: int = 1600, pace_s: float = 0.0) -> None:
    for at in range(0, len(wav), chunk):
        session.push(wav[at : at + chunk])
        if pace_s:
            time.sleep(pace_s)


def test_unpaced_renders_every_slot_with_its_own_audio(stub_avatar) -> None:
    wav = tone(1.0)
    with LiveSession(stub_avatar, LiveConfig(pace=False), windows_factory=InstantWindows) as s:
        push_chunks(s, wav, 480)  # 30 ms chunks: slots straddle them
        s.end()
        frames = list(s.frames())
    assert [f.index for f in frames] == list(range(25))
    assert {f.kind for f in frames} == {"speech"} and all(f.shows == f.index for f in frames)
    assert np.array_equal(np.concatenate([f.audio for f in frames]), wav)
    assert all(f.pts == pytest.approx(f.index / 25) for f in frames)
    face = stub_avatar.store.faces[0].box
    for f in frames:  # the stub's magenta face is pasted in the box; outside it the source frame stays
        raw = stub_avatar.store.frame(pingpong(f.index, 10))
        assert f.image.shape == raw.shape and not np.array_equal(f.image, raw)
        assert np.array_equal(f.image[: face[1]], raw[: face[1]])
    st = s.stats()
    assert (st.frames_rendered, st.frames_held, st.frames_idle) == (25, 0, 0) and st.utterances == 1


def test_idle_slots_show_the_raw_loop_frame_on_the_clock(stub_avatar) -> None:
    with LiveSession(stub_avatar, ROOMY, windows_factory=InstantWindows) as s:
        got = []
        for f in s.frames():
            got.append((s.clock() - s._start, f))
            if len(got) == 12:
                break
    for left, f in got:
        assert f.kind == "idle" and f.utterance is None and f.shows is None and not f.audio.any()
        assert np.array_equal(f.image, stub_avatar.store.frame(pingpong(f.index, 10)))
        assert left >= f.index / 25 - 1e-6  # never earlier than its slot
    assert [f.index for _, f in got] == list(range(12))


def test_quiet_audio_shows_idle_frames_with_hangover(stub_avatar) -> None:
    wav = np.concatenate([tone(0.4), np.zeros(int(0.8 * 16000), np.float32), tone(0.4)])
    with LiveSession(stub_avatar, LiveConfig(pace=False), windows_factory=InstantWindows) as s:
        s.push(wav)
        s.end()
        frames = list(s.frames())
    kinds = "".join(f.kind[0] for f in frames)
    # 10 loud, 20 silent, 10 loud frames: the silent ones go idle except 3 after and 2 before the speech
    assert kinds == "s" * 13 + "i" * 15 + "s" * 12
    assert np.array_equal(np.concatenate([f.audio for f in frames]), wav)  # idle frames still carry their audio
    for f in frames[13:28]:
        assert np.array_equal(f.image, stub_avatar.store.frame(pingpong(f.index, 10)))


def test_paced_speech_starts_after_the_delay_and_keeps_its_audio(stub_avatar) -> None:
    wav = tone(1.2)
    with LiveSession(stub_avatar, ROOMY, windows_factory=InstantWindows) as s:
        threading.Thread(target=lambda: (push_chunks(s, wav, 1600, 0.1), s.end()), daemon=True).start()
        frames = [(s.clock() - s._start, f) for f in s.frames()]
    speech = [f for _, f in frames if f.utterance is not None]
    assert len(speech) == 30 and [f.index for f in speech] == list(range(speech[0].index, speech[0].index + 30))
    assert np.array_equal(np.concatenate([f.audio for f in speech]), wav)
    assert all(left >= f.index / 25 - 1e-6 for left, f in frames)
    lat = [f.latency_s for f in speech if f.latency_s is not None]
    assert len(lat) == 12 and all(x > 0 for x in lat)  # every 100 ms chunk's first frame
    st = s.stats()
    assert st.latency_median_s == pytest.approx(float(np.median(lat)))
    assert st.frames_rendered + st.frames_held + st.frames_idle == len(frames)
    assert frames[-1][1] is speech[-1]  # the stream stops after the last audio frame


def test_slow_rendering_holds_the_nearest_frame_and_stays_in_sync(tiny_models, live_avatar_dir) -> None:
    avatar = avatar_with(SlowStub(0.3), tiny_models, live_avatar_dir)  # 4 frames per 0.3 s: 13 fps < 25
    wav = tone(3.0)
    with LiveSession(avatar, ROOMY, windows_factory=InstantWindows) as s:
        threading.Thread(target=lambda: (push_chunks(s, wav, 1600, 0.1), s.end()), daemon=True).start()
        speech = [f for f in s.frames() if f.utterance is not None]
    st = s.stats()
    assert st.below_real_time and st.stride >= 3 and "below real time" in st.message()
    assert st.frames_held > 0 and len(speech) == 75
    offsets = [abs(f.shows - f.index) for f in speech if f.shows is not None]
    assert all(o <= 2 * st.stride + 2 for o in offsets)  # the hold bound, by construction
    assert np.median(offsets) <= st.stride / 2
    held = [f for f in speech if f.kind == "held"]
    # A held frame shows another slot's very render. (Under load a render can land after its own slot left,
    # held; later slots may still show it, and then there is no speech frame of it to compare with.)
    renders = {g.index: g.image for g in speech if g.kind == "speech"}
    compared = [f for f in held if f.shows in renders]
    assert compared and all(f.image is renders[f.shows] for f in compared)


def test_a_held_slot_shows_its_own_cells_render_while_the_stride_grows(stub_avatar) -> None:
    s = LiveSession(stub_avatar, ROOMY, windows_factory=InstantWindows)
    s.close()  # the threads stop; the frames are made by hand below
    u = Utterance(0, 100, InstantWindows(), s.rate)
    u.push(tone(4.0))
    s._utts, s._stride = [u], 20
    # A cell of 10 slots renders 105, the next (the stride grew) of 20 renders 120. Slots 110..112 are nearer
    # to 105, but the picture of 120 is to be shown round 120: for its whole cell, 110..129.
    s._cells.extend([(100, 110, 105), (110, 130, 120)])
    s._rendered = {105: stub_avatar.store.frame(0).copy(), 120: stub_avatar.store.frame(1).copy()}
    made = [s._make_frame(n) for n in range(100, 130)]
    assert [f.shows for f in made] == [105] * 10 + [120] * 20
    assert [f.kind for f in made].count("speech") == 2
    # A cell whose render is not ready yet shows the nearest render there is.
    del s._rendered[120]
    assert {s._make_frame(n).shows for n in range(110, 130)} == {105}


def test_a_late_chunk_starts_a_new_utterance(stub_avatar) -> None:
    with LiveSession(stub_avatar, ROOMY, windows_factory=InstantWindows) as s:
        s.push(tone(0.2))
        frames, pushed = [], False
        for f in s.frames():
            frames.append(f)
            if not pushed and f.utterance == 0 and f.index == max(g.index for g in frames if g.utterance == 0) \
                    and sum(g.utterance == 0 for g in frames) == 5:
                time.sleep(0.1)  # the utterance's audio runs out: the next chunk comes after its slot
                s.push(tone(0.2, 0.2))
                s.end()
                pushed = True
    ids = [f.utterance for f in frames if f.utterance is not None]
    assert ids == [0] * 5 + [1] * 5 and s.stats().utterances == 2
    first_of_1 = next(f.index for f in frames if f.utterance == 1)
    assert first_of_1 > next(f.index for f in frames if f.utterance == 0) + 5  # a gap of idle slots between


def test_pending_audio_is_bounded(stub_avatar) -> None:
    with LiveSession(stub_avatar, LiveConfig(max_pending_s=2.0), windows_factory=InstantWindows) as s:
        s.push(tone(1.5))
        with pytest.raises(LiveOverflow, match=r"more than 2 s\. Send audio at real-time pace\.$"):
            s.push(tone(1.0))
        assert isinstance(LiveOverflow("x"), InputError)


def test_a_consumer_that_stops_taking_frames_is_dropped(stub_avatar) -> None:
    s = LiveSession(stub_avatar, LiveConfig(out_frames=3, drop_after_s=0.3), windows_factory=InstantWindows)
    try:
        deadline = time.monotonic() + 10
        while not s._dropped and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(LiveDropped):
            next(s.frames())
        with pytest.raises(LiveDropped):
            s.push(tone(0.1))
    finally:
        s.close()
    assert not any(t.is_alive() for t in s._threads)


def test_a_render_error_reaches_the_consumer(tiny_models, live_avatar_dir) -> None:
    avatar = avatar_with(StubRenderer(tiny_models, fail_after=3), tiny_models, live_avatar_dir)
    with LiveSession(avatar, LiveConfig(pace=False), windows_factory=InstantWindows) as s:
        s.push(tone(1.0))
        s.end()
        with pytest.raises(RuntimeError, match="simulated failure"):
            list(s.frames())


def test_a_warm_up_error_is_raised_by_the_constructor_and_leaves_no_thread(tiny_models, live_avatar_dir) -> None:
    avatar = avatar_with(StubRenderer(tiny_models, fail_after=0), tiny_models, live_avatar_dir)
    before = {t for t in threading.enumerate() if t.name.startswith("musetalk-live")}
    with pytest.raises(RuntimeError, match="simulated failure"):
        LiveSession(avatar, LiveConfig(), windows_factory=InstantWindows)
    assert {t for t in threading.enumerate() if t.name.startswith("musetalk-live")} == before


@pytest.mark.parametrize("pcm, message", [
    (np.zeros((2, 100), np.float32), "mono float samples"),
    (np.zeros(100, np.int16), "mono float samples"),
    (np.array([0.0, np.nan], np.float32), "NaN or infinite"),
])
def test_bad_audio_is_refused(stub_avatar, pcm, message) -> None:
    with LiveSession(stub_avatar, ROOMY, windows_factory=InstantWindows) as s:
        with pytest.raises(InputError, match=message):
            s.push(pcm)
        s.end()
        with pytest.raises(InputError, match="after end"):
            s.push(tone(0.1))
        assert {f.kind for f in s.frames()} <= {"idle"}  # ended without audio: the slots already out, then none


def test_slot_audio_tiles_the_stream_at_fractional_rates() -> None:
    rate = Rate(Fraction(30000, 1001))
    u = Utterance(0, 0, InstantWindows(), rate)
    wav = tone(1.0)
    for at in range(0, len(wav), 333):
        u.push(wav[at : at + 333])
    n = u.n_frames
    assert n == 29 and {len(u.audio(f)) for f in range(n)} == {533, 534}
    assert np.array_equal(np.concatenate([u.audio(f) for f in range(n)]), wav[: rate.boundary(n)])


def test_unpaced_frames_equal_offline_speak(tiny_pipe, live_avatar_dir, speech) -> None:
    """Real tiny models and StreamingWindows: with the whole audio pushed before end(), every window is the
    offline one, so every frame equals ``avatar.speak`` (silence kept) bit for bit."""
    wav, path = speech
    avatar = Avatar.load(tiny_pipe, live_avatar_dir)
    offline = list(avatar.speak(path, InferenceConfig(batch_size=4, silence=SilenceConfig(mode="keep"))))
    with LiveSession(avatar, LiveConfig(pace=False, idle_below_db=None)) as s:
        s.push(wav)
        s.end()
        live = list(s.frames())
    assert len(live) == len(offline) == 30
    assert all(np.array_equal(f.image, o) for f, o in zip(live, offline))


def test_a_slow_consumer_loses_the_oldest_frames_not_the_clock(stub_avatar) -> None:
    """A consumer at a third of real time: the output stays on the clock (the audio sender never overflows) and
    the frames it cannot take are skipped, oldest first."""
    wav = tone(2.0)
    cfg = LiveConfig(out_frames=5, max_pending_s=3.0)
    with LiveSession(stub_avatar, cfg, windows_factory=InstantWindows) as s:
        threading.Thread(target=lambda: (push_chunks(s, wav, 1600, 0.1), s.end()), daemon=True).start()
        got = []
        for f in s.frames():
            got.append(f.index)
            time.sleep(0.12)
    assert s.stats().frames_skipped > 0 and got == sorted(set(got))
    assert s.stats().frames_skipped + len(got) == got[-1] + 1
