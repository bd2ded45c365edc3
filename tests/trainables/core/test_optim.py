"""P-Adam / P-SAGA optimizer: replay of notes §7, Adam special case, checkpoints, buffers, validation."""

import copy
import io
import math

import pytest
import torch

from trainables.core import PathwiseSGD


def toy_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))


def toy_gradients(model, step):
    """A per-step loss that depends on the path: gradients of different paths differ."""
    g = torch.Generator().manual_seed(step)
    x = torch.randn(8, 5, generator=g)
    return (model(x) ** 2).sum() * 1e-9  # raw JTFS-like gradient scale; grad_mult restores it


class ReleasedReplay:
    """Notes §7 pseudo-code, written independently as the hook + SGD pipeline of the released code."""

    def __init__(self, params, P, lr, wd, grad_mult, use_p_adam, use_p_saga, b1=0.9, b2=0.999, eps=1e-8):
        self.params = list(params)
        self.P, self.gm, self.adam, self.saga = P, grad_mult, use_p_adam, use_p_saga
        self.b1, self.b2, self.eps = b1, b2, eps
        self.m = [torch.zeros(P, *w.shape) for w in self.params]
        self.v = [torch.zeros(P, *w.shape) for w in self.params]
        self.G = [torch.zeros(P, *w.shape) for w in self.params]
        self.tau = [0] * P
        self.k = 0
        self.seen = set()
        self.sgd = torch.optim.SGD(self.params, lr=lr, momentum=0, weight_decay=wd)

    def hook(self, i, g, p):
        g = self.gm * g
        t = self.k + 1
        if self.adam:
            d = (t - self.tau[p]) / self.P
            self.m[i][p] = self.b1**d * self.m[i][p] + (1 - self.b1**d) * g
            self.v[i][p] = self.b2**d * self.v[i][p] + (1 - self.b2**d) * g * g
            m_hat = self.m[i][p] / (1 - self.b1 ** (t / self.P))
            v_hat = self.v[i][p] / (1 - self.b2 ** (t / self.P))
            g = m_hat / (torch.sqrt(v_hat) + self.eps)
        if self.saga:
            n_seen = len(self.seen | {p})
            avg = self.G[i].sum(dim=0) / max(1, n_seen - 1)
            g_out = g - self.G[i][p] + avg
            self.G[i][p] = g
            g = g_out
        return g

    def step(self, p):
        self.k += 1  # the forward pass counts the step before the hooks run
        for i, w in enumerate(self.params):
            w.grad = self.hook(i, w.grad, p)
        if self.adam:
            self.tau[p] = self.k + 1
        self.seen.add(p)
        self.sgd.step()


@pytest.mark.parametrize("use_p_adam, use_p_saga", [(True, True), (True, False), (False, True), (False, False)])
def test_replay_of_the_released_update_rule(use_p_adam, use_p_saga):
    P, lr, wd, gm = 14, 1e-3, 0.01, 1e8
    ours, ref = toy_model(), toy_model()
    opt = PathwiseSGD(
        ours.parameters(), n_paths=P, lr=lr, weight_decay=wd, grad_mult=gm, use_p_adam=use_p_adam, use_p_saga=use_p_saga
    )
    replay = ReleasedReplay(ref.parameters(), P, lr, wd, gm, use_p_adam, use_p_saga)
    paths = torch.randint(0, P, (40,), generator=torch.Generator().manual_seed(0)).tolist()
    assert len(set(paths)) < len(paths)  # some paths are revisited (the n_seen - 1 divisor matters)
    for step, p in enumerate(paths):
        for model in (ours, ref):
            model.zero_grad()
            toy_gradients(model, step).backward()
        opt.step(p)
        replay.step(p)
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)  # bit-exact: same float32 operations in the same order
    assert not torch.equal(next(ours.parameters()), next(toy_model().parameters()))


def test_first_visit_of_a_path_is_a_sign_step():
    """m_hat = g and v_hat = g^2 on a path's first visit: the update is lr * g / (|g| + eps)."""
    model = toy_model()
    before = [w.detach().clone() for w in model.parameters()]
    opt = PathwiseSGD(model.parameters(), n_paths=7, lr=0.1, weight_decay=0.0, use_p_saga=False, grad_mult=1e8)
    toy_gradients(model, 0).backward()
    grads = [1e8 * w.grad.clone() for w in model.parameters()]
    opt.step(3)
    for w, w0, g in zip(model.parameters(), before, grads, strict=True):
        torch.testing.assert_close(w0 - w, 0.1 * g / (g.abs() + 1e-8), rtol=1e-5, atol=1e-7)


def test_one_path_paper_variant_is_adam():
    """With P = 1 and the paper's step index t = k, P-Adam + SGD is torch.optim.Adam (eps outside the
    square root is torch's convention, so compare the released eps placement through the paper index
    only where they coincide: eps = 0)."""
    ours, ref = toy_model(), toy_model()
    opt = PathwiseSGD(
        ours.parameters(),
        n_paths=1,
        lr=1e-2,
        weight_decay=0.0,
        grad_mult=1.0,
        use_p_saga=False,
        variant="paper",
        eps=0.0,
    )
    adam = torch.optim.Adam(ref.parameters(), lr=1e-2, eps=0.0)
    for step in range(25):
        for model in (ours, ref):
            model.zero_grad()
            (toy_gradients(model, step) * 1e9).backward()
        opt.step(0)
        adam.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_released_step_index_differs_from_adam_by_the_documented_offset():
    """The released t = k + 1 weights the first gradient by (1 - b1**2): not plain Adam."""
    ours, ref = toy_model(), toy_model()
    opt = PathwiseSGD(ours.parameters(), n_paths=1, lr=1e-2, weight_decay=0.0, grad_mult=1.0, use_p_saga=False)
    adam = torch.optim.Adam(ref.parameters(), lr=1e-2)
    for step in range(3):
        for model in (ours, ref):
            model.zero_grad()
            (toy_gradients(model, step) * 1e9).backward()
        opt.step(0)
        adam.step()
    assert not torch.allclose(next(ours.parameters()), next(ref.parameters()), rtol=1e-6, atol=1e-8)


def test_checkpoint_round_trip_gives_an_identical_next_step():
    model = toy_model()
    opt = PathwiseSGD(model.parameters(), n_paths=5, lr=1e-3)
    for step, p in enumerate([0, 3, 3, 1, 4]):
        model.zero_grad()
        toy_gradients(model, step).backward()
        opt.step(p)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)
    resumed = toy_model(seed=42)
    resumed.load_state_dict(ckpt["model"])
    opt2 = PathwiseSGD(resumed.parameters(), n_paths=5, lr=1e-3)
    opt2.load_state_dict(ckpt["opt"])
    for step, p in [(5, 2), (6, 3)]:
        for m, o in ((model, opt), (resumed, opt2)):
            m.zero_grad()
            toy_gradients(m, step).backward()
            o.step(p)
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_only_the_needed_buffers_are_allocated():
    sizes = {}
    for adam, saga in [(True, True), (True, False), (False, True), (False, False)]:
        model = toy_model()
        opt = PathwiseSGD(model.parameters(), n_paths=9, lr=1e-3, use_p_adam=adam, use_p_saga=saga)
        toy_gradients(model, 0).backward()
        opt.step(0)
        keys = {k for w in model.parameters() for k in opt.state[w]}
        sizes[(adam, saga)] = (keys, opt.buffer_bytes())
    n_weights = sum(w.numel() for w in toy_model().parameters())
    assert sizes[(True, True)] == ({"m", "v", "G"}, 3 * 9 * n_weights * 4)
    assert sizes[(True, False)] == ({"m", "v"}, 2 * 9 * n_weights * 4)
    assert sizes[(False, True)] == ({"G"}, 9 * n_weights * 4)
    assert sizes[(False, False)] == (set(), 0)


def test_loading_does_not_share_buffers():
    model = toy_model()
    opt = PathwiseSGD(model.parameters(), n_paths=3, lr=1e-3)
    toy_gradients(model, 0).backward()
    opt.step(1)
    other_model = copy.deepcopy(model)
    other = PathwiseSGD(other_model.parameters(), n_paths=3, lr=1e-3)
    other.load_state_dict(opt.state_dict())
    other.step(2)
    assert int(opt.state["paths"]["step"]) == 1 and int(other.state["paths"]["step"]) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_paths=0, lr=1e-3), "n_paths"),
        (dict(n_paths=3, lr=-1e-3), "lr must be > 0"),
        (dict(n_paths=3, lr=1e-3, betas=(1.0, 0.9)), "betas"),
        (dict(n_paths=3, lr=1e-3, weight_decay=-1), "weight_decay"),
        (dict(n_paths=3, lr=1e-3, grad_mult=0), "grad_mult"),
        (dict(n_paths=3, lr=1e-3, variant="v2"), "variant"),
    ],
)
def test_invalid_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PathwiseSGD(toy_model().parameters(), **kwargs)


def test_path_index_checked_and_state_size_mismatch_refused():
    model = toy_model()
    opt = PathwiseSGD(model.parameters(), n_paths=3, lr=1e-3)
    toy_gradients(model, 0).backward()
    with pytest.raises(ValueError, match=r"path_idx must be an integer in \[0, 3\)"):
        opt.step(3)
    opt.step(0)
    with pytest.raises(ValueError, match="for 3 paths"):
        PathwiseSGD(model.parameters(), n_paths=4, lr=1e-3).load_state_dict(opt.state_dict())


# --- the paper variant with P > 1 and P-SAGA on, against a scalar replay of Eqs. 6-9 -------------------------

PAPER_PATHS = [0, 1, 0, 2, 1, 1, 2, 0]  # revisits: card(Γ) differs from the released |Γ ∪ {p}| - 1
PAPER_HP = dict(P=3, lr=0.1, wd=0.01, b1=0.9, b2=0.999, eps=0.25)  # eps ~ v̂: its placement matters


def scalar_grads(k, p, w):
    return (p + 1.0) * (w - 0.3 * p) + 0.1 * k  # path- and step-dependent, of order 1


def paper_replay(divisor="paper", eps_outside=False):
    """Paper Eqs. 6-9 on one scalar weight (w0 = 1, grad_mult = 1), in plain Python floats: t = k, ε INSIDE
    the square root, the P-SAGA average over the card(Γ) paths visited before this step. ``divisor=
    "released"`` or ``eps_outside`` switch one of the two paper-vs-code differences to the code's choice."""
    hp, P = PAPER_HP, PAPER_HP["P"]
    m, v, G, tau, seen = [0.0] * P, [0.0] * P, [0.0] * P, [0] * P, set()
    w = 1.0
    for k, p in enumerate(PAPER_PATHS, start=1):
        g = scalar_grads(k, p, w)
        d = (k - tau[p]) / P
        m[p] = hp["b1"] ** d * m[p] + (1 - hp["b1"] ** d) * g
        v[p] = hp["b2"] ** d * v[p] + (1 - hp["b2"] ** d) * g * g
        m_hat, v_hat = m[p] / (1 - hp["b1"] ** (k / P)), v[p] / (1 - hp["b2"] ** (k / P))
        g = m_hat / (math.sqrt(v_hat) + hp["eps"]) if eps_outside else m_hat / math.sqrt(hp["eps"] + v_hat)
        tau[p] = k
        n = len(seen | {p}) - 1 if divisor == "released" else len(seen)
        avg = sum(G) / max(1, n)
        g, G[p] = g - G[p] + avg, g
        seen.add(p)
        w = w - hp["lr"] * (g + hp["wd"] * w)
    return w


# The replay's final weight, pinned so that a change of the replay itself is seen too.
PAPER_W_FINAL = 0.19701463186043755


def test_paper_variant_with_p_saga_matches_eqs_6_to_9():
    hp = PAPER_HP
    expected = paper_replay()
    assert expected == pytest.approx(PAPER_W_FINAL, rel=1e-12)
    # The code's choices really move the result here (so this test pins both).
    assert abs(paper_replay(divisor="released") - expected) > 1e-3
    assert abs(paper_replay(eps_outside=True) - expected) > 1e-3
    w = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))
    opt = PathwiseSGD(
        [w],
        n_paths=hp["P"],
        lr=hp["lr"],
        weight_decay=hp["wd"],
        betas=(hp["b1"], hp["b2"]),
        eps=hp["eps"],
        grad_mult=1.0,
        use_p_adam=True,
        use_p_saga=True,
        variant="paper",
    )
    for k, p in enumerate(PAPER_PATHS, start=1):
        w.grad = torch.tensor(scalar_grads(k, p, w.item()), dtype=torch.float64)
        opt.step(p)
    assert w.item() == pytest.approx(expected, rel=1e-12)


# --- hyperparameters in the param groups; checkpoints from before still load --------------------------------


def test_state_dict_describes_the_optimizer():
    model = toy_model()
    opt = PathwiseSGD(
        model.parameters(), n_paths=5, lr=1e-3, use_p_adam=False, use_p_saga=True, grad_mult=3.0, variant="paper"
    )
    group = opt.state_dict()["param_groups"][0]
    assert {k: group[k] for k in ("use_p_adam", "use_p_saga", "grad_mult", "variant")} == {
        "use_p_adam": False,
        "use_p_saga": True,
        "grad_mult": 3.0,
        "variant": "paper",
    }


def test_a_checkpoint_without_the_toggles_in_its_param_groups_still_loads():
    """State dicts written when the toggles were instance attributes (no keys in param_groups)."""
    model = toy_model()
    opt = PathwiseSGD(model.parameters(), n_paths=4, lr=1e-3, use_p_adam=True, use_p_saga=True)
    for step, p in enumerate([0, 2, 2, 1]):
        model.zero_grad()
        toy_gradients(model, step).backward()
        opt.step(p)
    old = copy.deepcopy(opt.state_dict())
    for group in old["param_groups"]:
        for key in ("use_p_adam", "use_p_saga", "grad_mult", "variant"):
            del group[key]
    resumed_model = copy.deepcopy(model)
    resumed = PathwiseSGD(resumed_model.parameters(), n_paths=4, lr=1e-3, use_p_adam=True, use_p_saga=True)
    resumed.load_state_dict(old)
    assert resumed.param_groups[0]["use_p_saga"] is True and resumed.param_groups[0]["variant"] == "released"
    for step, p in [(4, 3), (5, 2)]:
        for m, o in ((model, opt), (resumed_model, resumed)):
            m.zero_grad()
            toy_gradients(m, step).backward()
            o.step(p)
    for a, b in zip(model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_param_groups_must_share_the_variant():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt = PathwiseSGD([{"params": a.parameters()}, {"params": b.parameters(), "variant": "paper"}], n_paths=3, lr=1e-3)
    (a(torch.ones(1, 2)).sum() + b(torch.ones(1, 2)).sum()).backward()
    with pytest.raises(ValueError, match="same in every param group"):
        opt.step(0)


# --- P-SAGA's sum over paths as a running sum (variant "running-sum") ------------------------------------------


def test_running_sum_variant_follows_the_released_rule_within_float32_rounding():
    """40 steps over P = 14 with revisits: the running float64 sum gives the released update up to the
    rounding of the exact float32 sum (measured: weights within 3e-7 relative, against steps of ~1e-3)."""
    P, lr, gm = 14, 1e-3, 1e8
    ours, ref = toy_model(), toy_model()
    opt = PathwiseSGD(ours.parameters(), n_paths=P, lr=lr, grad_mult=gm, variant="running-sum")
    replay = ReleasedReplay(ref.parameters(), P, lr, 0.01, gm, True, True)
    paths = torch.randint(0, P, (40,), generator=torch.Generator().manual_seed(0)).tolist()
    for step, p in enumerate(paths):
        for model in (ours, ref):
            model.zero_grad()
            toy_gradients(model, step).backward()
        opt.step(p)
        replay.step(p)
    moved = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), toy_model().parameters(), strict=True))
    assert moved > 1e-2  # 40 sign-like steps of lr 1e-3
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-8)
    for w in ours.parameters():
        state = opt.state[w]
        torch.testing.assert_close(state["G_sum"], state["G"].double().sum(0), rtol=1e-12, atol=1e-12)


def test_running_sum_resumes_from_a_released_checkpoint():
    """A state saved by the exact variant has no running sum: it is rebuilt from G on the first step."""
    model = toy_model()
    opt = PathwiseSGD(model.parameters(), n_paths=4, lr=1e-3)
    for step, p in enumerate([0, 2, 2, 1]):
        model.zero_grad()
        toy_gradients(model, step).backward()
        opt.step(p)
    saved = copy.deepcopy(opt.state_dict())
    exact_model, running_model = copy.deepcopy(model), copy.deepcopy(model)
    exact = PathwiseSGD(exact_model.parameters(), n_paths=4, lr=1e-3)
    exact.load_state_dict(saved)
    running = PathwiseSGD(running_model.parameters(), n_paths=4, lr=1e-3, variant="running-sum")
    saved["param_groups"][0]["variant"] = "running-sum"
    running.load_state_dict(saved)
    for m, o in ((exact_model, exact), (running_model, running)):
        m.zero_grad()
        toy_gradients(m, 4).backward()
        o.step(3)
    for a, b in zip(exact_model.parameters(), running_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    assert all("G_sum" in running.state[w] for w in running_model.parameters())


@pytest.mark.parametrize("variant", ["released", "running-sum", "paper"])
def test_state_lives_on_the_parameters_device(variant):
    """On "meta" (a stand-in for a GPU) any per-path buffer made on the CPU would raise."""
    model = toy_model().to("meta")
    opt = PathwiseSGD(model.parameters(), n_paths=4, lr=1e-3, variant=variant)
    for p in (1, 2, 1):
        model.zero_grad()
        model(torch.empty(3, 5, device="meta")).sum().backward()
        opt.step(p)
    assert all(t.device.type == "meta" for w in model.parameters() for t in opt.state[w].values())
