"""Exact K-nearest-neighbour search in 3-D action space (all points queried).

:func:`knn` returns the same neighbour sets as
``scipy.spatial.cKDTree(points).query(points, k)`` (the point itself
included), several times faster on one core for the paper-sized problem
(N ~ 56,000, k ~ 65). Each row is sorted by (distance, index), so the output
is deterministic even with exact duplicates (bootstrap resamples), and does
not depend on the number of threads.

Algorithm (numba, compiled once and cached on disk):

* a balanced k-d tree: median split (by position, so duplicates cannot stall
  it) along the axis of largest extent, leaves of at most ``LEAF_SIZE``
  points, a tight bounding box per node. Median splits adapt to the very
  anisotropic density of scaled actions (J_R/30 ~ 0-20, L_z/30 ~ 40-100,
  J_z/30 ~ 0-3);
* the points are queried in tree order, so consecutive queries are close:
  the largest distance from the current query to the previous query's k
  neighbours (k distinct points) bounds its k-th neighbour distance, which
  prunes the traversal from the start (the first query of a run uses k
  points next to it in tree order);
* leaf points within the bound are appended without branching; if the
  buffer fills up it is cut to the k best by (squared distance, index) with
  a quickselect and the bound shrinks. At the end a bucket sort on squared
  distance plus an insertion sort by (distance, index) picks and orders the
  k best;
* :meth:`Tree.weighted_sets` answers the question the abundance deviation
  of a bootstrap resample asks: the distinct stars behind a star's K
  nearest rows, each star weighted by its number of copies. With ``hint``
  (each point's set from before the points moved a little, as between two
  evaluations of a Nelder-Mead trial) every query is bounded by its hinted
  set, and the queries of a small node (``GROUP_SIZE`` points) share one
  traversal for the leaves within the largest of their bounds. A query
  then only weighs the points within its bound: if that is the hinted
  weight (about 57% of the queries in a paper-size trial) the set is
  unchanged but for members no longer needed at the far end; otherwise the
  few intruders are found in the leaves that weigh more than their hinted
  points and merged in, and only the farthest candidates are ordered to
  find where the weight reaches K. Sets are kept sorted by index, so no
  query sorts its neighbours by distance, and the order in which a set's
  rows are summed depends on the set alone.

Distances are ``sqrt(dx*dx + dy*dy + dz*dz)`` in float64, as in cKDTree.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

__all__ = ["knn", "knn_subset", "Tree", "WeightedSets", "LEAF_SIZE", "sort_pairs"]

#: Maximum number of points in a k-d tree leaf.
LEAF_SIZE = 16
#: Hinted set queries share one traversal per node of at most this many points.
GROUP_SIZE = 32

# Relative and absolute slack on the triangle-inequality bound (in squared
# distance units); far above float64 rounding, far below any real gap.
_BOUND_REL = 1e-9
_BOUND_ABS = 1e-300


# --------------------------------------------------------------------------
# tree build
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _select_perm(perm, coord, lo, hi, nth):
    """Reorder ``perm[lo:hi]`` so that position ``nth`` holds the element of
    that rank by ``coord[perm]``, smaller-or-equal before, larger-or-equal
    after (Hoare partition quickselect, median-of-three pivot)."""
    left = lo
    right = hi - 1
    while right > left:
        mid = (left + right) >> 1
        a = coord[perm[left]]
        b = coord[perm[mid]]
        c = coord[perm[right]]
        if a < b:
            if b < c:
                pivot = b
            elif a < c:
                pivot = c
            else:
                pivot = a
        else:
            if a < c:
                pivot = a
            elif b < c:
                pivot = c
            else:
                pivot = b
        i = left
        j = right
        while i <= j:
            while coord[perm[i]] < pivot:
                i += 1
            while coord[perm[j]] > pivot:
                j -= 1
            if i <= j:
                t = perm[i]
                perm[i] = perm[j]
                perm[j] = t
                i += 1
                j -= 1
        # now [left, j] <= pivot <= [i, right], and j < i
        if nth <= j:
            right = j
        elif nth >= i:
            left = i
        else:
            return


@njit(cache=True, nogil=True, inline="always")
def _fit_box(box, node, xs, ys, zs, order, lo, hi):
    """Set ``box[node]`` to the bounding box (xmin, ymin, zmin, xmax, ymax,
    zmax) of the points ``order[lo:hi]`` of (xs, ys, zs), or of ``lo:hi``
    itself when ``order`` is None."""
    x0 = np.inf
    y0 = np.inf
    z0 = np.inf
    x1 = -np.inf
    y1 = -np.inf
    z1 = -np.inf
    for i in range(lo, hi):
        p = i if order is None else order[i]
        x0 = min(x0, xs[p])
        x1 = max(x1, xs[p])
        y0 = min(y0, ys[p])
        y1 = max(y1, ys[p])
        z0 = min(z0, zs[p])
        z1 = max(z1, zs[p])
    box[node, 0] = x0
    box[node, 1] = y0
    box[node, 2] = z0
    box[node, 3] = x1
    box[node, 4] = y1
    box[node, 5] = z1


@njit(cache=True, nogil=True)
def _build_tree(pts, leaf_size):
    """Balanced k-d tree. Returns (perm, node_lo, node_hi, child, box, n_nodes):
    node ``n`` covers tree positions ``[node_lo[n], node_hi[n])`` i.e. original
    points ``perm[node_lo[n]:node_hi[n]]``; ``child[n]`` is the left child
    (the right one is ``child[n] + 1``) or -1 for a leaf; ``box[n]`` is
    (xmin, ymin, zmin, xmax, ymax, zmax)."""
    n = pts.shape[0]
    max_nodes = 2 * n + 1
    perm = np.arange(n)
    node_lo = np.empty(max_nodes, np.int64)
    node_hi = np.empty(max_nodes, np.int64)
    child = np.full(max_nodes, -1, np.int64)
    box = np.empty((max_nodes, 6), np.float64)
    xs = pts[:, 0].copy()
    ys = pts[:, 1].copy()
    zs = pts[:, 2].copy()
    node_lo[0] = 0
    node_hi[0] = n
    n_nodes = 1
    stack = np.empty(128, np.int64)
    sp = 0
    stack[sp] = 0
    sp += 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        lo = node_lo[node]
        hi = node_hi[node]
        _fit_box(box, node, xs, ys, zs, perm, lo, hi)
        if hi - lo <= leaf_size:
            continue
        ex = box[node, 3] - box[node, 0]
        ey = box[node, 4] - box[node, 1]
        ez = box[node, 5] - box[node, 2]
        if ex >= ey and ex >= ez:
            coord = xs
        elif ey >= ez:
            coord = ys
        else:
            coord = zs
        mid = (lo + hi) >> 1
        _select_perm(perm, coord, lo, hi, mid)
        left = n_nodes
        n_nodes += 2
        child[node] = left
        node_lo[left] = lo
        node_hi[left] = mid
        node_lo[left + 1] = mid
        node_hi[left + 1] = hi
        stack[sp] = left + 1
        sp += 1
        stack[sp] = left
        sp += 1
    return perm, node_lo, node_hi, child, box, n_nodes


# --------------------------------------------------------------------------
# selection and sorting of (squared distance, index) pairs
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _less(d_a, i_a, d_b, i_b):
    return d_a < d_b or (d_a == d_b and i_a < i_b)


@njit(cache=True, nogil=True)
def _nth_pairs(d, ix, lo, hi, nth):
    """Quickselect on (d, ix) pairs in ``[lo, hi)``: afterwards position
    ``nth`` holds its rank and everything before it is smaller (pairs are
    distinct because indices are)."""
    left = lo
    right = hi - 1
    while right > left:
        mid = (left + right) >> 1
        # median of three by swapping into order left <= mid <= right
        if _less(d[mid], ix[mid], d[left], ix[left]):
            t = d[mid]; d[mid] = d[left]; d[left] = t
            u = ix[mid]; ix[mid] = ix[left]; ix[left] = u
        if _less(d[right], ix[right], d[left], ix[left]):
            t = d[right]; d[right] = d[left]; d[left] = t
            u = ix[right]; ix[right] = ix[left]; ix[left] = u
        if _less(d[right], ix[right], d[mid], ix[mid]):
            t = d[right]; d[right] = d[mid]; d[mid] = t
            u = ix[right]; ix[right] = ix[mid]; ix[mid] = u
        pd = d[mid]
        pi = ix[mid]
        i = left
        j = right
        while i <= j:
            while _less(d[i], ix[i], pd, pi):
                i += 1
            while _less(pd, pi, d[j], ix[j]):
                j -= 1
            if i <= j:
                t = d[i]; d[i] = d[j]; d[j] = t
                u = ix[i]; ix[i] = ix[j]; ix[j] = u
                i += 1
                j -= 1
        if nth <= j:
            right = j
        elif nth >= i:
            left = i
        else:
            return


# --------------------------------------------------------------------------
# queries
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _box_dist2(box, node, qx, qy, qz):
    """Squared distance from (qx, qy, qz) to the box of ``node`` (branch-free)."""
    ex = max(max(box[node, 0] - qx, qx - box[node, 3]), 0.0)
    ey = max(max(box[node, 1] - qy, qy - box[node, 4]), 0.0)
    ez = max(max(box[node, 2] - qz, qz - box[node, 5]), 0.0)
    return ex * ex + ey * ey + ez * ez


@njit(cache=True, nogil=True)
def _buffers(k, leaf_size):
    """Scratch of one search: (count above which the candidates are cut to
    the k best, so that the next leaf cannot overflow them; candidate
    squared distances and indices; their sorted k best; histogram; stack)."""
    cap = 4 * k + 64 + leaf_size
    return (cap - leaf_size, np.empty(cap, np.float64), np.empty(cap, np.int64),
            np.empty(cap, np.float64), np.empty(cap, np.int64), np.empty(2 * k + 1, np.int64),
            np.empty(256, np.int64))


@njit(cache=True, nogil=True)
def _cut_to_k(bd, bi, nb, k):
    """Keep the k best of ``nb`` candidates (quickselect by (squared
    distance, index)); returns (k, the new bound on the squared distance)."""
    _nth_pairs(bd, bi, 0, nb, k - 1)
    return k, bd[k - 1] * (1.0 + _BOUND_REL) + _BOUND_ABS


@njit(cache=True, nogil=True, inline="always")
def _scan_leaf(tx, ty, tz, perm, lo, hi, qx, qy, qz, bound, bd, bi, nb):
    """Append the points at tree positions [lo, hi) within squared distance
    ``bound`` to the ``nb`` candidates ``bd, bi`` (branch-free); returns
    the new count."""
    for j in range(lo, hi):
        dx = tx[j] - qx
        dy = ty[j] - qy
        dz = tz[j] - qz
        d2 = dx * dx + dy * dy + dz * dz
        bd[nb] = d2
        bi[nb] = perm[j]
        nb += d2 <= bound
    return nb


@njit(cache=True, nogil=True, inline="always")
def sort_pairs(d, ix, m):
    """Insertion sort of ``d[:m], ix[:m]`` by (d, ix) in place."""
    for i in range(1, m):
        kd = d[i]
        ki = ix[i]
        j = i - 1
        while j >= 0 and _less(kd, ki, d[j], ix[j]):
            d[j + 1] = d[j]
            ix[j + 1] = ix[j]
            j -= 1
        d[j + 1] = kd
        ix[j + 1] = ki


@njit(cache=True, nogil=True)
def _sort_k_best(bd, bi, nb, bound, k, sd, si, hist):
    """The k best of the ``nb`` candidates (all with squared distance <=
    ``bound``, at least k of them), sorted by (squared distance, index),
    into ``sd[:k], si[:k]``. ``hist``: scratch of 2k + 1 ints."""
    # bucket sort by squared distance over [0, bound]: every candidate has
    # d2 <= bound so its bucket is <= nbuck (the last one only at d2 == bound
    # up to rounding); buckets are monotone in d2, so the k best lie in the
    # buckets up to the first one where the running count reaches k
    nbuck = 2 * k
    scale = nbuck / bound
    for b in range(nbuck + 1):
        hist[b] = 0
    for j in range(nb):
        f = bd[j] * scale
        b = nbuck
        if f < nbuck:
            b = int(f)
        hist[b] += 1
    cum = 0
    bk = 0
    while True:
        h = hist[bk]
        hist[bk] = cum
        cum += h
        if cum >= k or bk == nbuck:
            break
        bk += 1
    m_tot = cum
    for j in range(nb):
        f = bd[j] * scale
        b = nbuck
        if f < nbuck:
            b = int(f)
        if b <= bk:
            p = hist[b]
            hist[b] = p + 1
            sd[p] = bd[j]
            si[p] = bi[j]
    # the prefix is sorted up to within-bucket order: insertion sort by
    # (d2, index) is linear in practice
    sort_pairs(sd, si, m_tot)


@njit(cache=True, nogil=True)
def _search_one(tx, ty, tz, perm, node_lo, node_hi, child, box, k, q, bmax, lim_nb, bd, bi,
                sd, si, hist, stack, sdist):
    """The k nearest points of tree position ``q`` into ``sd[:k]`` (squared
    distances) and ``si[:k]`` (original indices), sorted by (distance,
    index). ``bmax``: a squared distance within which at least k points lie
    (computed with the arithmetic of :func:`_scan_leaf`, so that those points
    pass its test); the other arrays are scratch from :func:`_buffers`."""
    qx = tx[q]
    qy = ty[q]
    qz = tz[q]
    bound = bmax * (1.0 + _BOUND_REL) + _BOUND_ABS
    # depth-first traversal, nearer child first, pruned by the bound
    nb = 0
    stack[0] = 0
    sdist[0] = 0.0
    sp = 1
    while sp > 0:
        sp -= 1
        if sdist[sp] > bound:
            continue
        node = stack[sp]
        c = child[node]
        if c >= 0:
            dl = _box_dist2(box, c, qx, qy, qz)
            dr = _box_dist2(box, c + 1, qx, qy, qz)
            if dl <= dr:
                if dr <= bound:
                    stack[sp] = c + 1
                    sdist[sp] = dr
                    sp += 1
                if dl <= bound:
                    stack[sp] = c
                    sdist[sp] = dl
                    sp += 1
            else:
                if dl <= bound:
                    stack[sp] = c
                    sdist[sp] = dl
                    sp += 1
                if dr <= bound:
                    stack[sp] = c + 1
                    sdist[sp] = dr
                    sp += 1
            continue
        nb = _scan_leaf(tx, ty, tz, perm, node_lo[node], node_hi[node], qx, qy, qz, bound,
                        bd, bi, nb)
        if nb > lim_nb:
            nb, bound = _cut_to_k(bd, bi, nb, k)
    _sort_k_best(bd, bi, nb, bound, k, sd, si, hist)


@njit(cache=True, nogil=True, inline="always")
def _tree_order_bound(tx, ty, tz, q, k):
    """Largest squared distance from tree position ``q`` to the k points next
    to it in tree order (k distinct points: a valid bound for its k-th neighbour)."""
    n = tx.shape[0]
    s0 = min(q, n - k)
    bmax = 0.0
    for j in range(s0, s0 + k):
        ex = tx[j] - tx[q]
        ey = ty[j] - ty[q]
        ez = tz[j] - tz[q]
        bmax = max(bmax, ex * ex + ey * ey + ez * ez)
    return bmax


@njit(cache=True, nogil=True)
def _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k, leaf_size,
                 q_start, q_stop, out_d, out_i, rowmap):
    """Query the points at tree positions ``[q_start, q_stop)``; write rows
    ``rowmap[perm[q]]`` of ``out_d`` (distances) and ``out_i`` (original
    indices), skipping points whose ``rowmap`` entry is negative.

    ``tx, ty, tz``: coordinates in tree order; ``ox, oy, oz``: in original
    order. The points are queried in tree order, so consecutive queries are
    close: the largest distance from a query to the previous query's k
    neighbours (k distinct points) bounds its k-th neighbour distance (the
    first query uses the k points next to it in tree order). Those k points
    pass the leaf test with the very same arithmetic, so at least k
    candidates are always collected.
    """
    lim_nb, bd, bi, sd, si, hist, stack = _buffers(k, leaf_size)
    sdist = np.empty(256, np.float64)
    nbx = np.empty(k)
    nby = np.empty(k)
    nbz = np.empty(k)
    first = True
    for q in range(q_start, q_stop):
        if rowmap[perm[q]] < 0:
            continue
        qx = tx[q]
        qy = ty[q]
        qz = tz[q]
        if first:
            bmax = _tree_order_bound(tx, ty, tz, q, k)
        else:
            bmax = 0.0
            for m in range(k):
                ex = nbx[m] - qx
                ey = nby[m] - qy
                ez = nbz[m] - qz
                bmax = max(bmax, ex * ex + ey * ey + ez * ez)
        first = False
        _search_one(tx, ty, tz, perm, node_lo, node_hi, child, box, k, q, bmax, lim_nb, bd, bi,
                    sd, si, hist, stack, sdist)
        row = rowmap[perm[q]]
        for m in range(k):
            jj = si[m]
            out_d[row, m] = np.sqrt(sd[m])
            out_i[row, m] = jj
            nbx[m] = ox[jj]
            nby[m] = oy[jj]
            nbz[m] = oz[jj]


@njit(cache=True, nogil=True)
def _groups(node_lo, node_hi, child, group_size):
    """The nodes of at most ``group_size`` points whose parent has more (or
    leaves of a larger size), in tree order: they partition the points."""
    out = np.empty(node_lo.shape[0], np.int64)
    m = 0
    stack = np.empty(256, np.int64)
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        c = child[node]
        if c < 0 or node_hi[node] - node_lo[node] <= group_size:
            out[m] = node
            m += 1
        else:
            stack[sp] = c + 1
            stack[sp + 1] = c
            sp += 2
    return out[:m]


# --------------------------------------------------------------------------
# weighted neighbour sets (the distinct stars of a bootstrap resample)
# --------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _sort_ints(a, m):
    """Insertion sort of ``a[:m]`` in place."""
    for i in range(1, m):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = key


@njit(cache=True, nogil=True)
def _cut(ad, ai, na, bd, bi, nb, wsum, w, need, bound, td, ti):
    """Key (squared distance, index) of the tail of a weighted set.

    The candidates are the union of two lists (``na`` hinted members
    ``ad, ai`` and ``nb`` intruders ``bd, bi``): every point within squared
    distance ``bound`` but the query, with weights ``w[index]`` summing to
    ``wsum`` >= ``need``. Walking from the farthest, each candidate is
    dropped while the rest still weigh ``need``; the first that cannot be
    is the tail. Only the candidates beyond a fraction of the bound are
    sorted (about the farthest 15%; the fraction is lowered if they are all
    dropped). ``td``, ``ti``: scratch of size >= na + nb."""
    frac = 0.85
    while True:
        lim = frac * bound if frac > 0.0 else -1.0
        m = 0
        for j in range(na):
            td[m] = ad[j]
            ti[m] = ai[j]
            m += ad[j] > lim
        for j in range(nb):
            td[m] = bd[j]
            ti[m] = bi[j]
            m += bd[j] > lim
        sort_pairs(td, ti, m)
        s = wsum
        for j in range(m - 1, -1, -1):
            wj = w[ti[j]]
            if s - wj < need:
                return td[j], ti[j]
            s -= wj
        frac = frac - 0.3 if frac > 0.3 else -1.0


@njit(cache=True, nogil=True)
def _write_prefix(cd, ci, m, kd, ki, out, olen, otail, row):
    """Row ``row`` of the output: the candidates ``ci[:m]`` (sorted by index,
    squared distances ``cd``) up to key (kd, ki). ``ci`` may be that row
    itself (each entry is read before it is overwritten)."""
    w = 0
    for j in range(m):
        if not _less(kd, ki, cd[j], ci[j]):
            out[row, w] = ci[j]
            w += 1
    for j in range(w, out.shape[1]):
        out[row, j] = -1
    olen[row] = w
    otail[row] = ki


@njit(cache=True, nogil=True)
def _weighted_cold(tx, ty, tz, perm, node_lo, node_hi, child, box, q, w, need, kq, lim_nb, bd,
                   bi, sd, si, hist, stack, sdist, out, olen, otail, row):
    """The minimal weighted set of tree position ``q`` without a hint: its
    ``kq`` nearest points (itself included, kq - 1 >= need or all points)
    walked in (distance, index) order until the others weigh ``need``."""
    _search_one(tx, ty, tz, perm, node_lo, node_hi, child, box, kq, q,
                _tree_order_bound(tx, ty, tz, q, kq), lim_nb, bd, bi, sd, si, hist, stack, sdist)
    _walk_sorted(si, kq, perm[q], w, need, out, olen, otail, row)


@njit(cache=True, nogil=True, inline="always")
def _walk_sorted(si, kq, self_i, w, need, out, olen, otail, row):
    """Row ``row`` of the output from the ``kq`` nearest points ``si`` of point
    ``self_i`` in (distance, index) order: the shortest prefix of the others
    weighing ``need`` (tail -1 if they weigh less), sorted by index."""
    otail[row] = -1
    s = 0
    m = 0
    for j in range(kq):
        i = si[j]
        if i == self_i:
            continue
        out[row, m] = i
        m += 1
        s += w[i]
        if s >= need:
            otail[row] = i
            break
    out[row, :m].sort()
    for j in range(m, out.shape[1]):
        out[row, j] = -1
    olen[row] = m


@njit(cache=True, nogil=True)
def _weighted_from_sorted(idx, points, w, need, out, olen, otail):
    """Minimal weighted sets of ``points`` from their plain k-nearest rows
    ``idx`` (the point itself included); tail -1 where the row weighs too little."""
    for r in range(idx.shape[0]):
        _walk_sorted(idx[r], idx.shape[1], points[r], w, need, out, olen, otail, points[r])


@njit(cache=True, nogil=True)
def _leaf_of(node_lo, node_hi, child, n):
    """The leaf node of every tree position."""
    out = np.empty(n, np.int64)
    for node in range(node_lo.shape[0]):
        if child[node] < 0:
            for t in range(node_lo[node], node_hi[node]):
                out[t] = node
    return out


@njit(cache=True, nogil=True)
def _weighted_sets(tx, ty, tz, ct, op, w, leaf_u, bit_u, perm, node_lo, node_hi, child, box,
                   need, leaf_size, groups, gmax, hint, hlen, out, olen, otail, inplace):
    """Minimal weighted neighbour sets of every point, bounded by hinted sets.

    ``ct``: weights in tree order, ``w``: in original order; ``op``: (N, 4)
    coordinates and weight in original order. ``inplace``: ``out`` and
    ``olen`` are ``hint`` and ``hlen`` themselves, so the rows that do not
    change are not rewritten. ``hint`` (N, W), ``hlen`` (N,): a guessed
    set per point (its first ``hlen`` entries: increasing indices in
    [0, N), not the point itself, weighing at least ``need``); any other
    row is ignored and that point is searched without a hint.

    Per node of :func:`_groups`: each query's hinted bound (the largest
    squared distance to its hinted set, which weighs at least ``need``, so
    the answer lies within it), one traversal for the leaves within the
    largest bound of the node's box, then per query the weight of the
    points within its bound. If that equals the hinted weight (plus its
    own), the points within the bound are exactly the hinted set, and the
    answer is the hinted set less the farthest members that are no longer
    needed (usually none). Otherwise the intruders (points within the bound
    that are neither hinted nor the query) are found in the leaves whose
    weight within the bound exceeds that of their hinted points, the tail
    is found with :func:`_cut`, and the intruders that stay are merged by
    index with the hinted members that stay. A bound that holds more than
    4 ``need`` + 64 of weight (a hint from far away) is dropped for a plain
    search.
    """
    n = tx.shape[0]
    width = out.shape[1]
    kq = min(n, need + 1)
    lim_nb, bd, bi, sd, si, hist, stack = _buffers(kq, leaf_size)
    sdist = np.empty(256, np.float64)
    qbound = np.empty(n, np.float64)
    qsum = np.empty(n, np.int64)
    n_nodes = node_lo.shape[0]
    cx0 = np.empty(n_nodes)
    cy0 = np.empty(n_nodes)
    cz0 = np.empty(n_nodes)
    cx1 = np.empty(n_nodes)
    cy1 = np.empty(n_nodes)
    cz1 = np.empty(n_nodes)
    cdist = np.empty(n_nodes)
    clo = np.empty(n_nodes, np.int64)
    chi = np.empty(n_nodes, np.int64)
    cnode = np.empty(n_nodes, np.int64)
    sel = np.empty(n_nodes, np.int64)
    swin = np.empty(n_nodes, np.int64)
    shm = np.zeros(n_nodes, np.int64)
    spos = np.empty(n_nodes, np.int64)
    hd = np.empty((gmax, width))
    # at most this weight within a hinted bound (else a plain search), so
    # at most this many candidates
    wlim = 4 * need + 64
    cap = wlim
    cd = np.empty(cap + leaf_size)
    ci = np.empty(cap + leaf_size, np.int64)
    td = np.empty(cap + leaf_size)
    ti = np.empty(cap + leaf_size, np.int64)
    ii = np.empty(cap + leaf_size, np.int64)
    rowbuf = np.empty(width, np.int64)
    stamp = np.full(n, -1, np.int64)
    for g in range(groups.shape[0]):
        gn = groups[g]
        lo = node_lo[gn]
        hi = node_hi[gn]
        gbound = -1.0
        for q in range(lo, hi):
            pq = perm[q]
            qbound[q] = -1.0
            ln = hlen[pq]
            if ln < 1 or ln > width:
                continue
            ok = (hint[pq, 0] >= 0) & (hint[pq, ln - 1] < n)
            for m in range(ln - 1):
                ok &= hint[pq, m] < hint[pq, m + 1]
            for m in range(ln):
                ok &= hint[pq, m] != pq
            if not ok:
                continue
            qx = tx[q]
            qy = ty[q]
            qz = tz[q]
            bmax = 0.0
            sf = 0.0
            for m in range(ln):
                h = hint[pq, m]
                ex = op[h, 0] - qx
                ey = op[h, 1] - qy
                ez = op[h, 2] - qz
                d2 = ex * ex + ey * ey + ez * ez
                hd[q - lo, m] = d2
                bmax = max(bmax, d2)
                sf += op[h, 3]  # the weight (an integer: the sum is exact)
            s = np.int64(sf)
            if s < need:
                continue
            qbound[q] = bmax * (1.0 + _BOUND_REL) + _BOUND_ABS
            qsum[q] = s
            gbound = max(gbound, qbound[q])
        nc = 0
        if gbound >= 0.0:
            stack[0] = 0
            sp = 1
            while sp > 0:
                sp -= 1
                node = stack[sp]
                ex = max(max(box[node, 0] - box[gn, 3], box[gn, 0] - box[node, 3]), 0.0)
                ey = max(max(box[node, 1] - box[gn, 4], box[gn, 1] - box[node, 4]), 0.0)
                ez = max(max(box[node, 2] - box[gn, 5], box[gn, 2] - box[node, 5]), 0.0)
                if ex * ex + ey * ey + ez * ez > gbound:
                    continue
                c = child[node]
                if c >= 0:
                    stack[sp] = c + 1
                    stack[sp + 1] = c
                    sp += 2
                else:
                    cx0[nc] = box[node, 0]
                    cy0[nc] = box[node, 1]
                    cz0[nc] = box[node, 2]
                    cx1[nc] = box[node, 3]
                    cy1[nc] = box[node, 4]
                    cz1[nc] = box[node, 5]
                    clo[nc] = node_lo[node]
                    chi[nc] = node_hi[node]
                    cnode[nc] = node
                    nc += 1
        for q in range(lo, hi):
            pq = perm[q]
            bound = qbound[q]
            if bound < 0.0:
                _weighted_cold(tx, ty, tz, perm, node_lo, node_hi, child, box, q, w, need, kq,
                               lim_nb, bd, bi, sd, si, hist, stack, sdist, out, olen, otail, pq)
                continue
            qx = tx[q]
            qy = ty[q]
            qz = tz[q]
            ln = hlen[pq]
            for c in range(nc):
                ex = max(max(cx0[c] - qx, qx - cx1[c]), 0.0)
                ey = max(max(cy0[c] - qy, qy - cy1[c]), 0.0)
                ez = max(max(cz0[c] - qz, qz - cz1[c]), 0.0)
                cdist[c] = ex * ex + ey * ey + ez * ez
            ns = 0
            for c in range(nc):
                sel[ns] = c
                ns += cdist[c] <= bound
            win = 0
            for t in range(ns):
                c = sel[t]
                lw = 0
                for j in range(clo[c], chi[c]):
                    dx = tx[j] - qx
                    dy = ty[j] - qy
                    dz = tz[j] - qz
                    lw += ct[j] * (dx * dx + dy * dy + dz * dz <= bound)
                swin[t] = lw
                win += lw
                if win > wlim:
                    break
            if win > wlim:  # a far too wide hint: plain search
                _weighted_cold(tx, ty, tz, perm, node_lo, node_hi, child, box, q, w, need, kq,
                               lim_nb, bd, bi, sd, si, hist, stack, sdist, out, olen, otail, pq)
                continue
            win -= w[pq]  # the query itself, at distance 0
            if win == qsum[q]:
                # the points within the bound are the hinted set: drop the
                # farthest members that are no longer needed (usually none)
                fd = -1.0
                fi = -1
                for m in range(ln):
                    if _less(fd, fi, hd[q - lo, m], hint[pq, m]):
                        fd = hd[q - lo, m]
                        fi = hint[pq, m]
                if qsum[q] - w[fi] < need:
                    if not inplace:
                        for m in range(ln):
                            out[pq, m] = hint[pq, m]
                        for m in range(ln, width):
                            out[pq, m] = -1
                        olen[pq] = ln
                    otail[pq] = fi
                    continue
                kd, ki = _cut(hd[q - lo], hint[pq], ln, cd, ci, 0, qsum[q], w, need, bound, td, ti)
                _write_prefix(hd[q - lo], hint[pq], ln, kd, ki, out, olen, otail, pq)
                continue
            # intruders: the points within the bound that are neither hinted nor
            # the query, found in the leaves whose weight within the bound
            # exceeds that of their hinted points
            for t in range(ns):
                spos[cnode[sel[t]]] = t
                shm[t] = 0
            swin[spos[leaf_u[pq]]] -= w[pq]
            for m in range(ln):
                h = hint[pq, m]
                t = spos[leaf_u[h]]
                swin[t] -= w[h]
                shm[t] |= bit_u[h]
            ni = 0
            for t in range(ns):
                if swin[t] <= 0:
                    continue
                c = sel[t]
                l0 = clo[c]
                for j in range(l0, chi[c]):
                    dx = tx[j] - qx
                    dy = ty[j] - qy
                    dz = tz[j] - qz
                    d2 = dx * dx + dy * dy + dz * dz
                    p = perm[j]
                    if d2 <= bound and p != pq and (shm[t] >> (j - l0)) & 1 == 0:
                        cd[ni] = d2
                        ci[ni] = p
                        ni += 1
            kd, ki = _cut(hd[q - lo], hint[pq], ln, cd, ci, ni, win, w, need, bound, td, ti)
            # the intruders that stay, by index, merged with the hinted members that stay
            nk = 0
            for m in range(ni):
                if not _less(kd, ki, cd[m], ci[m]):
                    ii[nk] = ci[m]
                    nk += 1
            _sort_ints(ii, nk)
            a = 0
            wp = 0
            for m in range(ln):
                h = hint[pq, m]
                if _less(kd, ki, hd[q - lo, m], h):
                    continue
                while a < nk and ii[a] < h:
                    rowbuf[wp] = ii[a]
                    wp += 1
                    a += 1
                rowbuf[wp] = h
                wp += 1
            while a < nk:
                rowbuf[wp] = ii[a]
                wp += 1
                a += 1
            for m in range(wp):
                out[pq, m] = rowbuf[m]
            for m in range(wp, width):
                out[pq, m] = -1
            olen[pq] = wp
            otail[pq] = ki


@njit(cache=True, parallel=True)
def _query_all_parallel(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k,
                        leaf_size, n_chunks, out_d, out_i, rowmap):
    n = tx.shape[0]
    for c in prange(n_chunks):
        start = (n * c) // n_chunks
        stop = (n * (c + 1)) // n_chunks
        _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k,
                     leaf_size, start, stop, out_d, out_i, rowmap)


@njit(cache=True, nogil=True)
def _tree_order(pts, perm):
    """The x, y, z coordinates of ``pts`` (N, 3) in tree order ``perm``."""
    n = pts.shape[0]
    tx = np.empty(n)
    ty = np.empty(n)
    tz = np.empty(n)
    for i in range(n):
        p = perm[i]
        tx[i] = pts[p, 0]
        ty[i] = pts[p, 1]
        tz[i] = pts[p, 2]
    return tx, ty, tz


@njit(cache=True, nogil=True)
def _prepare(pts, leaf_size):
    perm, node_lo, node_hi, child, box, n_nodes = _build_tree(pts, leaf_size)
    tx, ty, tz = _tree_order(pts, perm)
    return tx, ty, tz, perm, node_lo[:n_nodes], node_hi[:n_nodes], child[:n_nodes], box[:n_nodes]


@njit(cache=True, nogil=True)
def _refit(pts, perm, node_lo, node_hi, child, n_box):
    """The tree arrays of :func:`_prepare` for moved points, keeping the
    topology (``perm``, node ranges, children): coordinates in tree order and
    tight boxes recomputed bottom-up (children have larger node numbers)."""
    tx, ty, tz = _tree_order(pts, perm)
    box = np.empty((n_box, 6))
    for node in range(n_box - 1, -1, -1):
        c = child[node]
        if c >= 0:
            for a in range(3):
                box[node, a] = min(box[c, a], box[c + 1, a])
                box[node, 3 + a] = max(box[c, 3 + a], box[c + 1, 3 + a])
        else:  # a leaf: tree-order coordinates, so the identity order
            _fit_box(box, node, tx, ty, tz, None, node_lo[node], node_hi[node])
    return tx, ty, tz, box


@njit(cache=True, nogil=True)
def _knn_serial(pts, k, leaf_size, rowmap, n_out):
    tx, ty, tz, perm, node_lo, node_hi, child, box = _prepare(pts, leaf_size)
    n = pts.shape[0]
    ox = pts[:, 0].copy()
    oy = pts[:, 1].copy()
    oz = pts[:, 2].copy()
    out_d = np.empty((n_out, k))
    out_i = np.empty((n_out, k), np.int64)
    _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k, leaf_size,
                 0, n, out_d, out_i, rowmap)
    return out_d, out_i


def _check(points: np.ndarray, k: int) -> np.ndarray:
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"knn: points must have shape (N, 3), got {pts.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"knn: k must be an integer, got {k!r}")
    k = int(k)
    n = pts.shape[0]
    if k < 1:
        raise ValueError(f"knn: k must be >= 1, got k={k}")
    if k > n:
        raise ValueError(f"knn: k={k} neighbours requested but only N={n} points given (need k <= N)")
    if not np.all(np.isfinite(pts)):
        bad = int((~np.isfinite(pts).all(axis=1)).sum())
        raise ValueError(f"knn: points contain non-finite values (NaN or inf) in {bad} of {n} rows")
    return pts


def knn(points: np.ndarray, k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every point among the points themselves.

    ``points``: (N, 3) array (converted to float64). Returns ``(dist, idx)``,
    both (N, k): ``dist`` float64 Euclidean distances, ``idx`` int64 indices,
    each row sorted by (distance, index), the point itself included (first,
    unless exact duplicates of it have smaller indices: all copies are at
    distance 0). Same neighbour sets and distances as
    ``scipy.spatial.cKDTree(points).query(points, k)`` up to the order of
    exact ties. ``threads`` > 1 splits the queries over numba threads; the
    result does not depend on it.

    Raises ``ValueError`` for a wrong shape, k < 1, k > N, or non-finite
    coordinates.
    """
    pts = _check(points, k)
    k = int(k)
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"knn: threads must be >= 1, got {threads}")
    n = pts.shape[0]
    rowmap = np.arange(n, dtype=np.int64)
    if threads == 1:
        return _knn_serial(pts, k, LEAF_SIZE, rowmap, n)
    tx, ty, tz, perm, node_lo, node_hi, child, box = _prepare(pts, LEAF_SIZE)
    n = pts.shape[0]
    ox = np.ascontiguousarray(pts[:, 0])
    oy = np.ascontiguousarray(pts[:, 1])
    oz = np.ascontiguousarray(pts[:, 2])
    out_d = np.empty((n, k))
    out_i = np.empty((n, k), np.int64)
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        n_chunks = min(n, 8 * threads)
        _query_all_parallel(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k,
                            LEAF_SIZE, n_chunks, out_d, out_i, rowmap)
    finally:
        numba.set_num_threads(old)
    return out_d, out_i



class Tree:
    """A k-d tree over ``points`` (N, 3), built once and queried several times.

    ``query(k)`` equals :func:`knn` (all points); ``query(k, subset)`` gives
    the rows of the points ``subset`` only (distinct indices), in that order;
    :meth:`weighted_sets` gives the weighted neighbour sets of a bootstrap
    resample's distinct stars.
    """

    def __init__(self, points: np.ndarray) -> None:
        pts = _check(points, 1)
        self.n = pts.shape[0]
        self._tree = _prepare(pts, LEAF_SIZE)
        self._groups: np.ndarray | None = None  # of the topology, made on the first hinted weighted_sets
        self._leaf: tuple | None = None  # leaf of each point and its bit there (same)
        self._set_points(pts)
        #: how many times the topology has been reused for moved points
        self.generation = 0

    def _set_points(self, pts: np.ndarray) -> None:
        self._orig = (np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1]),
                      np.ascontiguousarray(pts[:, 2]))

    def moved(self, points: np.ndarray) -> "Tree":
        """A tree over ``points`` (same N: the same points after they moved)
        that reuses this tree's topology and refits its boxes, ~50x cheaper
        than building one. Queries stay exact (boxes always bound their
        points); only their speed degrades as the points drift from where
        the topology was built (see ``generation``)."""
        pts = _check(points, 1)
        if pts.shape[0] != self.n:
            raise ValueError(f"knn: moved() needs the same {self.n} points, got {pts.shape[0]}")
        _, _, _, perm, node_lo, node_hi, child, box = self._tree
        tx, ty, tz, box = _refit(pts, perm, node_lo, node_hi, child, box.shape[0])
        out = Tree.__new__(Tree)
        out.n = self.n
        out._tree = (tx, ty, tz, perm, node_lo, node_hi, child, box)
        out._groups = self._groups
        out._leaf = self._leaf
        out._set_points(pts)
        out.generation = self.generation + 1
        return out

    def query(self, k: int, subset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(dist, idx) of the k nearest neighbours (rows of ``subset`` or of all points)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= self.n:
            raise ValueError(f"knn: k must be an integer in [1, N={self.n}], got k={k!r}")
        if subset is None:
            rowmap = np.arange(self.n, dtype=np.int64)
            n_out = self.n
        else:
            subset = np.asarray(subset, dtype=np.int64)
            rowmap = np.full(self.n, -1, dtype=np.int64)
            rowmap[subset] = np.arange(subset.size, dtype=np.int64)
            if np.count_nonzero(rowmap >= 0) != subset.size:
                raise ValueError("knn: subset indices must be distinct")
            n_out = subset.size
        tx, ty, tz, perm, node_lo, node_hi, child, box = self._tree
        out_d = np.empty((n_out, int(k)))
        out_i = np.empty((n_out, int(k)), np.int64)
        _query_range(tx, ty, tz, *self._orig, perm, node_lo, node_hi, child, box, int(k),
                     LEAF_SIZE, 0, self.n, out_d, out_i, rowmap)
        return out_d, out_i

    def weighted_sets(self, weights: np.ndarray, need: int, hint: WeightedSets | None = None,
                      reuse_hint: bool = False) -> WeightedSets:
        """Each point's nearest other points until their weights reach ``need``.

        ``weights`` (N,): positive integers, e.g. the number of copies of
        each distinct star in a bootstrap resample. For point i, walk the
        other points in (distance, index) order and stop at the first whose
        weight brings the total to ``need`` or more (the *tail*): these are
        the distinct stars behind the ``need`` nearest rows of the resample
        that are not copies of i, the tail being the star of the
        ``need``-th row. Returns :class:`WeightedSets`: members (N, need),
        each row's first ``length`` entries sorted by index, -1 after.

        ``hint``: the sets of the same points before they moved a little (as
        between two evaluations of a Nelder-Mead trial, or the re-indexed
        ones of :meth:`oti.resample.NeighbourMemory.hint_for`); only speed
        depends on it. A hinted row must hold increasing indices in [0, N)
        other than the point, weighing ``need`` or more, else that point is
        searched without it. ``reuse_hint``: write the result into the
        hint's arrays (when they are writable int64 arrays of the right
        shape), rewriting only the rows that change.
        """
        w = np.ascontiguousarray(weights, dtype=np.int64)
        need = int(need)
        if w.shape != (self.n,) or (w.size and w.min() < 1):
            raise ValueError(f"weighted_sets: weights must be {self.n} integers >= 1")
        if need < 1 or self.n < 2 or w.sum() - w.max() < need:
            raise ValueError(f"weighted_sets: need={need} rows but some point's others weigh "
                             f"less ({self.n} points of total weight {w.sum()})")
        tx, ty, tz, perm, node_lo, node_hi, child, box = self._tree
        if hint is None:
            out = np.empty((self.n, need), np.int64)
            olen = np.empty(self.n, np.int64)
            otail = np.empty(self.n, np.int64)
            # most sets hold fewer than need points (copies weigh more than
            # one): a narrower search first, a wide one for the points it leaves short
            everyone = np.arange(self.n, dtype=np.int64)
            kq = min(self.n, need + 1, max(2, int(np.ceil(need * self.n / w.sum() * 1.3)) + 1))
            _weighted_from_sorted(self.query(kq)[1], everyone, w, need, out, olen, otail)
            short = np.flatnonzero(otail < 0)
            if short.size:
                kq = min(self.n, need + 1)
                _weighted_from_sorted(self.query(kq, short)[1], short, w, need, out, olen, otail)
        else:
            members, length, tail = (np.asarray(a) for a in hint)
            if members.shape != (self.n, need) or length.shape != (self.n,):
                raise ValueError(f"weighted_sets: hint must have shape ({self.n}, {need}), "
                                 f"got {members.shape}")
            inplace = reuse_hint and all(
                a.dtype == np.int64 and a.flags.c_contiguous and a.flags.writeable
                for a in (members, length, tail)) and tail.shape == (self.n,)
            if inplace:
                out, olen, otail = members, length, tail
            else:
                members = np.ascontiguousarray(members, dtype=np.int64)
                length = np.ascontiguousarray(length, dtype=np.int64)
                out = np.empty((self.n, need), np.int64)
                olen = np.empty(self.n, np.int64)
                otail = np.empty(self.n, np.int64)
            if self._groups is None:
                self._groups = _groups(node_lo, node_hi, child, GROUP_SIZE)
            gmax = int((node_hi[self._groups] - node_lo[self._groups]).max())
            if self._leaf is None:
                leaf = _leaf_of(node_lo, node_hi, child, self.n)
                leaf_u = np.empty_like(perm)
                leaf_u[perm] = leaf
                bit_u = np.empty_like(perm)
                bit_u[perm] = np.left_shift(1, np.arange(self.n) - node_lo[leaf])
                self._leaf = (leaf_u, bit_u)
            op = np.empty((self.n, 4))
            op[:, 0], op[:, 1], op[:, 2] = self._orig
            op[:, 3] = w
            _weighted_sets(tx, ty, tz, w[perm], op, w, *self._leaf, perm, node_lo, node_hi, child,
                           box, need, LEAF_SIZE, self._groups, gmax, members, length, out, olen,
                           otail, inplace)
        if otail.min() < 0:  # cannot happen after the check above
            raise RuntimeError("weighted_sets: a point's neighbours weigh less than need")
        return WeightedSets(out, olen, otail)


class WeightedSets(NamedTuple):
    """Result of :meth:`Tree.weighted_sets`: ``members`` (N, need) int64, row i's
    first ``length[i]`` entries the indices of its set, increasing, -1 after;
    ``tail`` (N,) the member whose weight completes ``need`` (the farthest)."""

    members: np.ndarray
    length: np.ndarray
    tail: np.ndarray


def knn_subset(points: np.ndarray, k: int, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours, among all ``points``, of the points ``subset`` only.

    ``subset``: (M,) distinct indices into ``points``. Returns ``(dist, idx)``
    of shape (M, k), row m for point ``subset[m]``, identical to the rows
    ``knn(points, k)`` gives for them.
    """
    return Tree(points).query(k, subset)
