"""Streaming Whisper windows against the offline ones (tiny random Whisper), the 80 ms rule, and encode counts."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from musetalk.live import features
from musetalk.live.features import SHORT_BUCKET, StreamingWindows, short_input
from musetalk.models.audio import FrameWindows, frame_count, lazy_audio_features, window_starts

SR = 16000
NTSC = Fraction(30000, 1001)


def _speechlike(n_samples: int, seed: int) -> np.ndarray:
    """Noise under a 3 Hz envelope: loud and quiet stretches, so the per-segment log-mel max matters."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / SR
    return (rng.standard_normal(n_samples) * 0.1 * (0.55 + 0.45 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture(scope="module")
def long_clip(tiny_models):
    """33 s + 123 samples (two 30 s segments) and its offline hidden states, padded as FrameWindows holds them."""
    wav = _speechlike(33 * SR + 123, seed=1)
    offline = lazy_audio_features(tiny_models.whisper, tiny_models.feature_extractor, wav)
    return wav, offline.padded


def _offline(padded: torch.Tensor, n_samples: int, fps) -> torch.Tensor:
    return FrameWindows(padded, frame_count(n_samples, fps), fps, padded=True).materialize()


def _stream(tiny_models, fps=25) -> StreamingWindows:
    return StreamingWindows(tiny_models.whisper, tiny_models.feature_extractor, fps)


def _push_in_chunks(sw: StreamingWindows, wav: np.ndarray, sizes) -> None:
    at, i = 0, 0
    while at < len(wav):
        size = sizes[i % len(sizes)]
        sw.push(wav[at : at + size])
        at, i = at + size, i + 1


@pytest.mark.parametrize("fps", [25, NTSC])
def test_whole_file_then_finish_is_offline_bit_for_bit(tiny_models, long_clip, fps) -> None:
    wav, padded = long_clip
    sw = _stream(tiny_models, fps)
    sw.push(wav)
    sw.finish()
    assert sw.n_samples == len(wav) and sw.available == frame_count(len(wav), fps)
    got = sw.windows(range(sw.available))
    assert got.dtype == torch.float32 and got.shape == (frame_count(len(wav), fps), 50, 384)
    assert torch.equal(got, _offline(padded, len(wav), fps))
    assert sw.encode_calls == 2  # one per segment
    calls = sw.encode_calls
    assert torch.equal(sw.windows([0, 700, 824]), got[[0, 700, 824]])
    assert sw.encode_calls == calls  # complete segments are cached


@pytest.mark.parametrize("n_samples", [1600, 30 * SR, 30 * SR + 321])  # 0.1 s; one segment exactly; 1 step past it
def test_short_and_boundary_lengths_match_offline(tiny_models, n_samples) -> None:
    wav = _speechlike(n_samples, seed=2)
    offline = lazy_audio_features(tiny_models.whisper, tiny_models.feature_extractor, wav).materialize()
    sw = _stream(tiny_models)
    _push_in_chunks(sw, wav, [SR // 10])
    sw.finish()
    assert torch.equal(sw.windows(range(sw.available)), offline)


@pytest.mark.parametrize("fps, sizes", [(25, [320]), (25, [1600]), (NTSC, [0, 1, 777, 5003, 160, 0, 31999])])
def test_chunked_pushes_then_finish_are_offline_bit_for_bit(tiny_models, long_clip, fps, sizes) -> None:
    wav, padded = long_clip  # 20 ms, 100 ms, and odd sizes (empty pushes included)
    sw = _stream(tiny_models, fps)
    _push_in_chunks(sw, wav, sizes)
    assert sw.encode_calls == 0  # nothing is encoded until windows are asked for
    sw.finish()
    assert torch.equal(sw.windows(range(sw.available)), _offline(padded, len(wav), fps))


def test_available_waits_for_80_ms_of_audio_ahead(tiny_models) -> None:
    sw = _stream(tiny_models)
    # Frame i reads real steps through 2i + 5, whose audio ends at (i + 3) * 40 ms: the end of frame i + 2.
    for n in range(0, 2 * SR + 1, 160):
        assert sw.available == max(0, n // 640 - 2), n
        sw.push(np.zeros(160, np.float32))
    sw = _stream(tiny_models)
    sw.push(np.zeros(1919, np.float32))
    assert sw.available == 0
    with pytest.raises(IndexError):
        sw.windows([0])
    sw.push(np.zeros(1, np.float32))
    assert sw.available == 1
    sw.finish()
    assert sw.available == frame_count(1920) == 3  # the right pad stands in for the audio ahead


def test_no_frame_before_its_audio_at_a_fractional_rate(tiny_models) -> None:
    sw = _stream(tiny_models, NTSC)
    starts = window_starts(200, NTSC)
    for size in [1, 317, 2048, 5, 640] * 30:
        sw.push(np.zeros(size, np.float32))
        k, n = sw.available, sw.n_samples
        # Real steps of frame k - 1 run through starts + 5; step t's audio ends at sample (t + 1) * 320.
        assert k == 0 or (starts[k - 1] + 6) * 320 <= n
        assert (starts[k] + 6) * 320 > n  # and the next frame really lacks audio


def test_live_use_then_finish_replaces_partial_encodes(tiny_models, long_clip) -> None:
    wav, padded = long_clip
    sw = _stream(tiny_models)
    sw.push(wav[: 29 * SR])
    first = sw.windows(range(sw.available))
    assert sw.encode_calls == 1  # the open segment, once
    done = sw.available
    assert torch.equal(sw.windows(range(done)), first) and sw.encode_calls == 1  # covered: no re-encode

    sw.push(wav[29 * SR : 31 * SR])  # segment 0 is now complete; frames near 30 s read both segments
    sw.windows(range(done, sw.available))
    assert sw.encode_calls == 3  # segment 0's final encode + the open segment 1
    sw.windows(range(done - 10, done))
    assert sw.encode_calls == 3  # frames of a complete segment: cached

    sw.push(wav[31 * SR :])
    sw.finish()
    full = sw.windows(range(sw.available))
    assert sw.encode_calls == 4  # segment 1's final encode
    assert torch.equal(full, _offline(padded, len(wav), 25))  # no stale partial states survive
    sw.forget(800)
    with pytest.raises(IndexError, match="released"):
        sw.windows([0])
    assert torch.equal(sw.windows([800, 824]), full[[800, 824]])


def test_renderer_loop_encodes_at_most_once_per_call(tiny_models) -> None:
    wav = _speechlike(2 * SR, seed=3)
    offline = lazy_audio_features(tiny_models.whisper, tiny_models.feature_extractor, wav).materialize()
    sw = _stream(tiny_models)
    done, calls, diffs = 0, 0, []
    for at in range(0, len(wav), 6400):  # 400 ms chunks, batches of >= 4 frames as a renderer asks
        sw.push(wav[at : at + 6400])
        if sw.available - done >= 4:
            before = sw.encode_calls
            got = sw.windows(range(done, sw.available))
            assert sw.encode_calls - before == 1
            diffs.append((got - offline[done : sw.available]).abs().max().item())
            done, calls = sw.available, calls + 1
    assert calls == 5 and sw.encode_calls == calls
    assert all(np.isfinite(diffs)) and max(diffs) > 0  # partial segments differ from offline, as expected
    sw.finish()
    assert torch.equal(sw.windows(range(sw.available)), offline)
    assert sw.encode_calls == calls  # the last call's encode already had all the audio: it is the final one
    assert sw.windows([]).shape == (0, 50, 384)


# ------------------------------------------------------------------ short provisional encodes (context_s)


def test_encoder_states_is_the_library_forward_bit_for_bit(tiny_models) -> None:
    from musetalk.models.audio import encode_segment, encoder_states

    enc, fe = tiny_models.whisper, tiny_models.feature_extractor
    wav = _speechlike(7 * SR + 99, seed=4)
    feats = fe(wav, sampling_rate=SR, return_tensors="pt").input_features  # (1, 80, 3000)
    with torch.inference_mode():
        assert torch.equal(encoder_states(enc, feats), encode_segment(enc, fe, wav))
        short = encoder_states(enc, feats[..., :401], first_position=7)  # any length runs: ceil(401 / 2) steps
    assert short.shape == (201, 5, 384)
    conv = short[:, 0] - enc.embed_positions.weight[7:208]  # positions 7.. were added
    torch.testing.assert_close(conv[:150], encoder_states(enc, feats)[:150, 0] - enc.embed_positions.weight[:150])


def _layer0_minus_positions(windows: torch.Tensor, positions: np.ndarray, encoder) -> torch.Tensor:
    """Windows (k, 50, 384) -> their embedding-layer state (k, 10, 384) less the position embedding of each
    step: the conv output, which is the same wherever the input starts."""
    layer0 = windows.reshape(len(windows), 10, 5, 384)[:, :, 0]
    return layer0 - encoder.embed_positions.weight[torch.as_tensor(positions)]


def test_short_encode_maps_its_steps_onto_the_segment(tiny_models, long_clip) -> None:
    wav, padded = long_clip
    enc = tiny_models.whisper
    sw = StreamingWindows(enc, tiny_models.feature_extractor, 25, context_s=2)
    n = 10 * SR + 123
    sw.push(wav[:n])
    frames = np.arange(sw.available - 8, sw.available)  # steps 2 s back are not asked: the context is 2 s
    got = sw.windows(frames)
    assert (sw.short_calls, sw.encode_calls) == (1, 1)
    first = -(-(n - 2 * SR) // 320)  # the short input starts on the step grid, 2 s (less under a step) back
    real = window_starts(sw.available)[frames][:, None] + np.arange(10) - 4
    assert (real >= first).all() and (real < n // 320).all()  # every step asked lies inside the short input
    offline = _offline(padded, len(wav), 25)[frames]
    # Inside the short input (one step from its end: the STFT reflects there) the convs see the same mel
    # frames as offline's (noise never reaches the log-mel floor), so only the position embedding differs.
    inner = real < n // 320 - 1
    a = _layer0_minus_positions(got, real, enc)[torch.as_tensor(inner)]  # positions: the segment's own
    b = _layer0_minus_positions(offline, real, enc)[torch.as_tensor(inner)]
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert not torch.equal(got, offline)  # the layers attend over 2 s, not the segment


@pytest.mark.parametrize("have, lo", [(10 * SR + 123, 10**6), (10 * SR, 10**6), (5000, 10**6), (30 * SR - 100, 10**6),
                                      (18 * SR + 7, 200), (SR, 0)])
def test_short_input_is_whole_seconds_on_the_step_grid_and_covers_what_is_asked(have, lo) -> None:
    context = 4 * SR
    first, length = short_input(have, context, lo)
    start = first * 320
    assert length % SHORT_BUCKET == 0 and start + length <= 30 * SR  # whole seconds, inside the segment
    assert start < have <= start + length and first <= lo  # all the audio received, and the earliest step asked
    assert have - start >= min(have, context - 319)  # the context, less under a step
    assert start + length - have < 320 or first == 0 or start + length == 30 * SR  # zeros only where no audio is


def test_short_encodes_take_few_input_shapes_whatever_the_chunk_sizes(tiny_models, long_clip, monkeypatch) -> None:
    """An input length per audio length made a new kernel shape per encode for the CPU's bf16 matmul caches, and
    a live stream's memory grew with them (features.short_input)."""
    lengths = []
    real = features.encode_short

    def spy(encoder, extractor, chunk, sample_rate, first):
        lengths.append(len(chunk))
        return real(encoder, extractor, chunk, sample_rate, first)

    monkeypatch.setattr(features, "encode_short", spy)
    wav, _ = long_clip
    sw = StreamingWindows(tiny_models.whisper, tiny_models.feature_extractor, 25, context_s=2)
    rng = np.random.default_rng(3)
    at, done = 0, 0
    while at < 29 * SR:  # the open segment 0 only: every encode is a short one
        size = int(rng.integers(50, 9000))
        sw.push(wav[at : at + size])
        at += size
        if sw.available > done:
            sw.windows(range(done, sw.available))
            done = sw.available
    assert sw.short_calls == len(lengths) > 50
    assert set(lengths) == {SR, 2 * SR}  # the first second, then 2 s of context (3 s with a step over: none here)


def test_context_s_is_cheap_while_live_and_exact_once_complete(tiny_models, long_clip) -> None:
    wav, padded = long_clip
    sw = StreamingWindows(tiny_models.whisper, tiny_models.feature_extractor, 25, context_s=4)
    offline = _offline(padded, len(wav), 25)
    sw.push(wav[: 28 * SR])
    done, encodes = sw.available - 4, []
    for at in range(28 * SR, 31 * SR, 8000):  # from 28 s, 500 ms chunks across the segment boundary
        sw.push(wav[at : at + 8000])
        short, full = sw.short_calls, sw.encode_calls - sw.short_calls
        got = sw.windows(range(done, sw.available))
        assert torch.isfinite(got).all()
        encodes.append((sw.short_calls - short, sw.encode_calls - sw.short_calls - full))
        done = sw.available
    # One short encode per call; at 30.0 s the frames asked read only segment 0, now complete: its full encode.
    assert encodes == [(1, 0)] * 3 + [(0, 1)] + [(1, 0)] * 2
    # Segment 0 is complete (31 s received): its frames are offline's, from one full-segment encode.
    assert sw.encode_calls - sw.short_calls == 1
    assert torch.equal(sw.windows(range(700, 740)), offline[700:740])
    assert not torch.equal(sw.windows([done - 1]), offline[[done - 1]])  # the open segment 1 is provisional
    sw.push(wav[31 * SR :])
    sw.finish()
    assert torch.equal(sw.windows(range(sw.available)), offline)  # short states never leak into final ones


@pytest.mark.parametrize("sizes", [[320], [SR // 2]])
def test_context_s_whole_file_or_finished_first_is_offline(tiny_models, long_clip, sizes) -> None:
    wav, padded = long_clip
    sw = StreamingWindows(tiny_models.whisper, tiny_models.feature_extractor, 25, context_s=2)
    _push_in_chunks(sw, wav, sizes)
    sw.finish()
    assert torch.equal(sw.windows(range(sw.available)), _offline(padded, len(wav), 25))
    assert (sw.encode_calls, sw.short_calls) == (2, 0)


def test_context_s_must_be_positive(tiny_models) -> None:
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="context_s"):
            StreamingWindows(tiny_models.whisper, tiny_models.feature_extractor, 25, context_s=bad)
