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
* :meth:`Tree.query` with ``hint`` (each point's neighbours from before the
  points moved a little, as between two evaluations of a Nelder-Mead
  trial) bounds every query by its hinted neighbours, which is tight, and
  serves the queries of a small node (``GROUP_SIZE`` points) from one
  traversal: the leaves within the group's largest bound of the node's box,
  which each query then filters by its own bound (1.3x faster than one
  traversal per query on a recorded trial, same answers).

Distances are ``sqrt(dx*dx + dy*dy + dz*dz)`` in float64, as in cKDTree.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

__all__ = ["knn", "LEAF_SIZE"]

#: Maximum number of points in a k-d tree leaf.
LEAF_SIZE = 16
#: Hinted queries share one traversal per node of at most this many points.
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


@njit(cache=True, nogil=True, inline="always")
def _hint_bound(hint, pq, k, stamp, mark, ox, oy, oz, qx, qy, qz):
    """(valid, largest squared distance) from (qx, qy, qz) to the hinted
    neighbours ``hint[pq, :k]`` of original point ``pq``; valid only if they
    are k distinct indices in [0, N). Sets ``stamp[j] = mark`` for them
    (``mark``: a value used for no other query of the search)."""
    n = ox.shape[0]
    bmax = 0.0
    for m in range(k):
        jj = hint[pq, m]
        if jj < 0 or jj >= n or stamp[jj] == mark:
            return False, 0.0
        stamp[jj] = mark
        ex = ox[jj] - qx
        ey = oy[jj] - qy
        ez = oz[jj] - qz
        bmax = max(bmax, ex * ex + ey * ey + ez * ez)
    return True, bmax


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
    for i in range(1, m_tot):
        kd = sd[i]
        ki = si[i]
        j = i - 1
        while j >= 0 and _less(kd, ki, sd[j], si[j]):
            sd[j + 1] = sd[j]
            si[j + 1] = si[j]
            j -= 1
        sd[j + 1] = kd
        si[j + 1] = ki


@njit(cache=True, nogil=True)
def _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k, leaf_size,
                 q_start, q_stop, out_d, out_i, rowmap, hint, stamp):
    """Query the points at tree positions ``[q_start, q_stop)``; write rows
    ``rowmap[perm[q]]`` of ``out_d`` (distances) and ``out_i`` (original
    indices), skipping points whose ``rowmap`` entry is negative.

    ``tx, ty, tz``: coordinates in tree order; ``ox, oy, oz``: in original order.
    ``hint``: (N, >= k) guessed neighbours per original point (only the
    first k columns are read), or an array with no rows. A row of k
    distinct indices in [0, N) bounds that point's k-th neighbour distance;
    any other row is ignored and the tree-order bound is used instead.
    ``stamp``: (N,) int64 scratch for the hint check (it marks a query's
    hints with the query's tree position) holding no value in
    ``[q_start, q_stop)``, or an empty array when there is no hint.
    """
    n = tx.shape[0]
    lim_nb, bd, bi, sd, si, hist, stack = _buffers(k, leaf_size)
    sdist = np.empty(256, np.float64)
    nbx = np.empty(k)
    nby = np.empty(k)
    nbz = np.empty(k)
    use_hint = hint.shape[0] == n and hint.shape[1] >= k
    first = True
    for q in range(q_start, q_stop):
        if rowmap[perm[q]] < 0:
            continue
        qx = tx[q]
        qy = ty[q]
        qz = tz[q]
        # Upper bound on the k-th squared distance: the largest squared
        # distance to k distinct points (the hinted neighbours if valid, else
        # the previous query's neighbours, or for the first query k points
        # next to it in tree order). Those k points pass the test below with
        # the very same arithmetic, so at least k candidates are always
        # collected.
        hinted = False
        if use_hint:
            hinted, bmax = _hint_bound(hint, perm[q], k, stamp, q, ox, oy, oz, qx, qy, qz)
        if not hinted:
            bmax = 0.0
            if not first:
                for m in range(k):
                    ex = nbx[m] - qx
                    ey = nby[m] - qy
                    ez = nbz[m] - qz
                    bmax = max(bmax, ex * ex + ey * ey + ez * ez)
            else:
                s0 = min(q, n - k)
                for j in range(s0, s0 + k):
                    ex = tx[j] - qx
                    ey = ty[j] - qy
                    ez = tz[j] - qz
                    bmax = max(bmax, ex * ex + ey * ey + ez * ez)
        first = False
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


@njit(cache=True, nogil=True)
def _query_grouped(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k, leaf_size,
                   groups, out_d, out_i, rowmap, hint):
    """:func:`_query_range` over all points, with hints, a group at a time.

    For each group (node of :func:`_groups`) the hinted bounds of its queries
    are computed first; one traversal collects the leaves whose boxes come
    within the largest of them of the group's box (a superset of every
    query's candidates, since a box-to-box distance is at most the
    point-to-box distance of any point in the box); each query then scans
    those leaves that come within its own bound. A group with a query whose
    hint is not valid is handed to :func:`_query_range`. Same answer.
    Hints are marked in ``stamp`` with -2 - q, never a tree position, so
    :func:`_query_range` can reuse it.
    """
    n = tx.shape[0]
    lim_nb, bd, bi, sd, si, hist, stack = _buffers(k, leaf_size)
    qbound = np.empty(n, np.float64)
    n_nodes = node_lo.shape[0]
    cbox = np.empty((6, n_nodes))
    cdist = np.empty(n_nodes)
    clo = np.empty(n_nodes, np.int64)
    chi = np.empty(n_nodes, np.int64)
    stamp = np.full(n, -1, np.int64)
    for g in range(groups.shape[0]):
        gn = groups[g]
        lo = node_lo[gn]
        hi = node_hi[gn]
        valid = True
        gbound = -1.0
        for q in range(lo, hi):
            if rowmap[perm[q]] < 0:
                continue
            valid, bmax = _hint_bound(hint, perm[q], k, stamp, -2 - q, ox, oy, oz,
                                      tx[q], ty[q], tz[q])
            if not valid:
                break
            qbound[q] = bmax * (1.0 + _BOUND_REL) + _BOUND_ABS
            gbound = max(gbound, qbound[q])
        if not valid:
            _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k, leaf_size,
                         lo, hi, out_d, out_i, rowmap, hint, stamp)
            continue
        if gbound < 0.0:  # no query in this group
            continue
        # leaves within the group's largest bound of the group's box
        nc = 0
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
                for a in range(6):
                    cbox[a, nc] = box[node, a]
                clo[nc] = node_lo[node]
                chi[nc] = node_hi[node]
                nc += 1
        for q in range(lo, hi):
            row = rowmap[perm[q]]
            if row < 0:
                continue
            qx = tx[q]
            qy = ty[q]
            qz = tz[q]
            bound = qbound[q]
            for c in range(nc):
                ex = max(max(cbox[0, c] - qx, qx - cbox[3, c]), 0.0)
                ey = max(max(cbox[1, c] - qy, qy - cbox[4, c]), 0.0)
                ez = max(max(cbox[2, c] - qz, qz - cbox[5, c]), 0.0)
                cdist[c] = ex * ex + ey * ey + ez * ez
            nb = 0
            for c in range(nc):
                if cdist[c] > bound:
                    continue
                nb = _scan_leaf(tx, ty, tz, perm, clo[c], chi[c], qx, qy, qz,
                                bound, bd, bi, nb)
                if nb > lim_nb:
                    nb, bound = _cut_to_k(bd, bi, nb, k)
            _sort_k_best(bd, bi, nb, bound, k, sd, si, hist)
            for m in range(k):
                out_d[row, m] = np.sqrt(sd[m])
                out_i[row, m] = si[m]


@njit(cache=True, parallel=True)
def _query_all_parallel(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k,
                        leaf_size, n_chunks, out_d, out_i, rowmap):
    n = tx.shape[0]
    for c in prange(n_chunks):
        start = (n * c) // n_chunks
        stop = (n * (c + 1)) // n_chunks
        _query_range(tx, ty, tz, ox, oy, oz, perm, node_lo, node_hi, child, box, k,
                     leaf_size, start, stop, out_d, out_i, rowmap, np.empty((0, 0), np.int64),
                     np.empty(0, np.int64))


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
                 0, n, out_d, out_i, rowmap, np.empty((0, 0), np.int64), np.empty(0, np.int64))
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
    the rows of the points ``subset`` only (distinct indices), in that order.
    """

    def __init__(self, points: np.ndarray) -> None:
        pts = _check(points, 1)
        self.n = pts.shape[0]
        self._tree = _prepare(pts, LEAF_SIZE)
        self._groups: np.ndarray | None = None  # of the topology, made on first hinted query
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
        out._set_points(pts)
        out.generation = self.generation + 1
        return out

    def query(self, k: int, subset: np.ndarray | None = None,
              hint: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(dist, idx) of the k nearest neighbours (rows of ``subset`` or of all points).

        ``hint``: optional (N, >= k) int array of guessed neighbours of every
        point, e.g. the neighbour lists of the same points before they moved
        a little. It only speeds the search up (its k-th distance prunes the
        tree from the start, and one traversal serves a group of nearby
        queries); the answer is the same exact one with or without it. Rows
        that are not k distinct indices in [0, N) are ignored.
        """
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
        if hint is None or hint.ndim != 2 or hint.shape[0] != self.n or hint.shape[1] < k:
            hint = np.empty((0, 0), np.int64)
        else:
            hint = np.ascontiguousarray(hint, dtype=np.int64)
        tx, ty, tz, perm, node_lo, node_hi, child, box = self._tree
        out_d = np.empty((n_out, int(k)))
        out_i = np.empty((n_out, int(k)), np.int64)
        if hint.shape[0] == 0:
            _query_range(tx, ty, tz, *self._orig, perm, node_lo, node_hi, child, box, int(k),
                         LEAF_SIZE, 0, self.n, out_d, out_i, rowmap, hint, np.empty(0, np.int64))
            return out_d, out_i
        if self._groups is None:
            self._groups = _groups(node_lo, node_hi, child, GROUP_SIZE)
        _query_grouped(tx, ty, tz, *self._orig, perm, node_lo, node_hi, child, box, int(k),
                       LEAF_SIZE, self._groups, out_d, out_i, rowmap, hint)
        return out_d, out_i


def knn_subset(points: np.ndarray, k: int, subset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """k nearest neighbours, among all ``points``, of the points ``subset`` only.

    ``subset``: (M,) distinct indices into ``points``. Returns ``(dist, idx)``
    of shape (M, k), row m for point ``subset[m]``, identical to the rows
    ``knn(points, k)`` gives for them.
    """
    return Tree(points).query(k, subset)
