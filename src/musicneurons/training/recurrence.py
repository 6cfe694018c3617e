"""One LSTM layer's recurrence, from pre-activations computed outside it, with a hand-written backward pass.

``nn.LSTM`` multiplies the whole input by its input weights at every step and differentiates that product
too. When most of the input is constant over the sequence (the decoder's first layer reads [one-hot, z]: for
the default 2-bar model about a third of a training step's arithmetic is z times its weights, 32 times), the
pre-activations are cheaper computed outside: gathered rows plus one projection of the constant part.
:class:`LstmSequence` then runs only h_{t-1} @ W_hh^T per step; its backward pass through time does one
matmul and a few elementwise products per step and one matmul for the gradient of W_hh.

Gate order and biases follow the model's ``nn.LSTM`` layout (i, f, g, o; Magenta's forget bias folded into
``bias_ih``), so the results equal the model's own teacher-forced path up to float rounding (tested).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class LstmSequence(torch.autograd.Function):
    """Run one LSTM layer over T steps from its input pre-activations.

    Inputs: ``pre`` (T, B, 4H) = input projection + biases, ``h0``, ``c0`` (B, H), ``w_hh`` (4H, H).
    gates_t = pre_t + h_{t-1} @ W_hh^T; (i, f, g, o) = (sigmoid, sigmoid, tanh, sigmoid)(gates_t);
    c_t = f c_{t-1} + i g; h_t = o tanh(c_t). Returns (h (T, B, H), c_T (B, H)).
    """

    @staticmethod
    def forward(ctx: Any, pre: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
        steps, batch, four_h = pre.shape
        hidden = four_h // 4
        g_rows = slice(2 * hidden, 3 * hidden)
        # tanh(x) = 2 sigmoid(2x) - 1: one sigmoid over all four gates (torch's tanh is ~10x slower per value
        # than its sigmoid on CPU), with the g rows of the pre-activations and of W_hh doubled once
        w_t = w_hh.t().clone()
        w_t[:, g_rows] *= 2
        acts = pre.clone()  # the gates, in place: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        acts[..., g_rows] *= 2
        hs = pre.new_empty(steps + 1, batch, hidden)  # hs[0] = h0, hs[t + 1] = h_t
        cs = pre.new_empty(steps + 1, batch, hidden)
        tanh_cs = pre.new_empty(steps, batch, hidden)
        hs[0] = h0
        cs[0] = c0
        for t in range(steps):
            a = acts[t]
            a.addmm_(hs[t], w_t).sigmoid_()
            i, f, g, o = a.chunk(4, dim=1)
            g.mul_(2).sub_(1)
            c = torch.addcmul(f * cs[t], i, g, out=cs[t + 1])
            tanh_c = torch.mul(c, 2, out=tanh_cs[t]).sigmoid_().mul_(2).sub_(1)
            torch.mul(o, tanh_c, out=hs[t + 1])
        ctx.save_for_backward(w_hh, hs, cs, acts, tanh_cs)
        return hs[1:], cs[-1]

    @staticmethod
    def backward(ctx: Any, grad_hs: Tensor | None, grad_c_last: Tensor | None) -> tuple[Tensor, ...]:
        w_hh, hs, cs, acts, tanh_c = ctx.saved_tensors
        steps, batch, four_h = acts.shape
        hidden = four_h // 4
        i, f, g, o = acts.chunk(4, dim=2)
        # a gradient on c_t (for i, f, g) or on h_t (for o) times these is the one on the pre-activations
        d_ifg = torch.stack([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g)], dim=2)  # (T, B, 3, H)
        d_o = tanh_c * o * (1 - o)
        dc_from_h = o * (1 - tanh_c * tanh_c)
        grad_pre = acts.new_empty(steps, batch, four_h)
        gp = grad_pre.view(steps, batch, 4, hidden)
        if grad_hs is None:
            grad_hs = torch.zeros_like(hs[1:])
        dc = torch.zeros_like(cs[0]) if grad_c_last is None else grad_c_last.clone()
        dh = grad_hs[-1]
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                dh = torch.addmm(grad_hs[t], grad_pre[t + 1], w_hh)
                dc.mul_(f[t + 1])
            dc.addcmul_(dh, dc_from_h[t])
            torch.mul(d_ifg[t], dc.unsqueeze(1), out=gp[t, :, :3])
            torch.mul(d_o[t], dh, out=gp[t, :, 3])
        grad_h0 = grad_pre[0] @ w_hh
        grad_c0 = dc * f[0]
        # dW_hh = sum over t and b of grad_pre[t, b]^T h_{t-1}[b]
        grad_w = grad_pre.view(steps * batch, four_h).t() @ hs[:-1].reshape(steps * batch, hidden)
        return grad_pre, grad_h0, grad_c0, grad_w
