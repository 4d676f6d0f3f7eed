/**
 * WebAssembly text of the Winograd F(2×2, 3×3) transforms used by the wasm backend's stride-1
 * 3×3 convolutions (winograd.ts). Generated here rather than written out by hand because each
 * transform is the same 16-fold unrolled pattern; `npm run gen:wasm` compiles it with wabt into
 * winograd-wasm.generated.ts (the engine only loads those bytes), and a unit test checks that the
 * committed bytes are what this text compiles to.
 *
 * The module imports the backend's own memory (`env.memory`), so the transforms read and write
 * tensors where XNNPACK keeps them. Every pointer is a byte offset into that memory; channel
 * counts must be multiples of 4 (one v128 holds 4 channels); tiles cover 2×2 outputs.
 *
 *   in_tf(vp, x, nb, th, tw, c)       V_ab[t, c] = (Bᵀ d_t B)_ab, d_t the 4×4 input patch of tile t
 *                                      of x_pad [nb, 2th+2, 2tw+2, c]; vp: 16 i32 pointers to V_ab
 *   out_tf(mp, y, nb, th, tw, c, b)   y [nb, 2th, 2tw, c] = Aᵀ M_t A + bias b, M_ab[t, c] at mp
 *   dy_tf(mp, dy, nb, th, tw, c)      M_ab[t, c] = (A dy_t Aᵀ)_ab, dy [nb, 2th, 2tw, c] (the
 *                                      gradient of out_tf's output with respect to M)
 *   gemm_tn(a, b, c, t, m, n)         C[m, n] += Σ_p A[p, m] B[p, n] (the filter gradient's products)
 *   gemm_nn(a, b, c, t, k, n)         C[t, n] = Σ_q A[t, q] B[q, n] (narrow convs' forward products)
 *   adam(x, m, v, g, x1, m1, v1, n, …) one Adam update of n floats (kernels/adam.ts; not a transform,
 *                                      but it too works on the backend's memory)
 *
 * Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]], Aᵀ = [[1,1,1,0],[0,1,−1,−1]].
 */

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const lines = (n: number, f: (i: number) => string): string => range(n).map(f).join('\n');
const get = (name: string): string => `(local.get $${name})`;
const add = (a: string, b: string): string => `(f32x4.add ${a} ${b})`;
const sub = (a: string, b: string): string => `(f32x4.sub ${a} ${b})`;
const i32add = (a: string, b: string): string => `(i32.add ${a} ${b})`;
const i32mul = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
const set = (name: string, value: string): string => `(local.set $${name} ${value})`;
const locals = (prefix: string, n: number, type: 'i32' | 'v128'): string =>
  range(n)
    .map((i) => `(local $${prefix}${i} ${type})`)
    .join(' ');

/** Loads the 16 pointers stored at `table` into locals p0..p15. */
const loadPointers = (table: string): string => lines(16, (i) => set(`p${i}`, `(i32.load offset=${4 * i} ${get(table)})`));

/**
 * Loops over the tiles (n, ty, tx) and, inside each, over the channels in steps of 4 floats (k is a
 * byte offset): `tile` runs once per tile before the channel loop, `body` per step, `next` after.
 */
function tileLoops(tile: string, body: string, next: string): string {
  return `
    (local.set $n (i32.const 0))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_u ${get('n')} ${get('nb')}))
      (local.set $ty (i32.const 0))
      (block $yd (loop $yl
        (br_if $yd (i32.ge_u ${get('ty')} ${get('th')}))
        (local.set $tx (i32.const 0))
        (block $xd (loop $xl
          (br_if $xd (i32.ge_u ${get('tx')} ${get('tw')}))
          ${tile}
          (local.set $k (i32.const 0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_u ${get('k')} ${get('cs')}))
            ${body}
            (local.set $k (i32.add ${get('k')} (i32.const 16)))
            (br $kl)))
          ${next}
          (local.set $tx (i32.add ${get('tx')} (i32.const 1)))
          (br $xl)))
        (local.set $ty (i32.add ${get('ty')} (i32.const 1)))
        (br $yl)))
      (local.set $n (i32.add ${get('n')} (i32.const 1)))
      (br $nl)))`;
}

const loopLocals = '(local $n i32) (local $ty i32) (local $tx i32) (local $k i32) (local $cs i32) (local $base i32)';

/** The 16 input taps d_ij (i: row, j: column) of the tile at $base, then r = Bᵀ d and V = r B into v0..v15. */
function inputTransform(): string {
  const d = (i: number, j: number): string => get(`d${i * 4 + j}`);
  const r = (i: number, j: number): string => get(`r${i * 4 + j}`);
  const loads = lines(16, (t) => set(`d${t}`, `(v128.load ${i32add(get('base'), i32add(get(`o${t}`), get('k')))})`));
  const rows = lines(4, (j) =>
    [
      set(`r${j}`, sub(d(0, j), d(2, j))),
      set(`r${4 + j}`, add(d(1, j), d(2, j))),
      set(`r${8 + j}`, sub(d(2, j), d(1, j))),
      set(`r${12 + j}`, sub(d(1, j), d(3, j))),
    ].join('\n'),
  );
  const cols = lines(4, (a) =>
    [
      set(`v${a * 4}`, sub(r(a, 0), r(a, 2))),
      set(`v${a * 4 + 1}`, add(r(a, 1), r(a, 2))),
      set(`v${a * 4 + 2}`, sub(r(a, 2), r(a, 1))),
      set(`v${a * 4 + 3}`, sub(r(a, 1), r(a, 3))),
    ].join('\n'),
  );
  return `${loads}\n${rows}\n${cols}`;
}

/** Shared prologue of the two input transforms: channel bytes, row bytes of x_pad, tap offsets, output pointers. */
const inputPrologue = `
    (local.set $cs (i32.shl ${get('c')} (i32.const 2)))
    (local.set $rs ${i32mul(i32add(`(i32.shl ${get('tw')} (i32.const 1))`, '(i32.const 2)'), get('cs'))})
    ${lines(16, (t) => set(`o${t}`, i32add(i32mul(`(i32.const ${t >> 2})`, get('rs')), i32mul(`(i32.const ${t & 3})`, get('cs')))))}
    ${loadPointers('vp')}`;

/** base = x + (n·(2th+2) + 2ty)·rs + 2tx·cs: tile (n, ty, tx)'s top-left input in x_pad [nb, 2th+2, 2tw+2, c]. */
const inputTileBase = set(
  'base',
  i32add(
    get('x'),
    i32add(
      i32mul(i32add(i32mul(get('n'), i32add(`(i32.shl ${get('th')} (i32.const 1))`, '(i32.const 2)')), `(i32.shl ${get('ty')} (i32.const 1))`), get('rs')),
      i32mul(`(i32.shl ${get('tx')} (i32.const 1))`, get('cs')),
    ),
  ),
);

const inTf = `
  (func (export "in_tf") (param $vp i32) (param $x i32) (param $nb i32) (param $th i32) (param $tw i32) (param $c i32)
    ${loopLocals} (local $rs i32) ${locals('o', 16, 'i32')} ${locals('p', 16, 'i32')} ${locals('d', 16, 'v128')} ${locals('r', 16, 'v128')} ${locals('v', 16, 'v128')}
    ${inputPrologue}
    ${tileLoops(
      inputTileBase,
      `${inputTransform()}
      ${lines(16, (t) => `(v128.store ${i32add(get(`p${t}`), get('k'))} ${get(`v${t}`)})`)}`,
      lines(16, (t) => set(`p${t}`, i32add(get(`p${t}`), get('cs')))),
    )})`;

/** Rows of A and B (tiles) per block of gemm_tn: a block of each stays in L2 while every C block is visited. */
export const GEMM_ROWS_PER_BLOCK = 256;

/**
 * The pieces of a 4 × w register block of C (w = 8 or 4: two or one v128 per row), rows i..i+3 and
 * columns from j, shared by both products: C's block address (pc), the accumulators, one step of
 * accumulation (B's row at pb times the four values `splat(r)` of A), and C's block row addresses.
 */
function registerBlock(w: 8 | 4) {
  const h = w / 4;
  const acc = (r: number, q: number): string => `acc${r * 2 + q}`;
  const each = (f: (r: number, q: number) => string): string =>
    range(4)
      .flatMap((r) => range(h).map((q) => f(r, q)))
      .join('\n');
  const cAt = (r: number, q: number): string => i32add(get('pc'), i32add(i32mul(`(i32.const ${r})`, get('ns')), `(i32.const ${16 * q})`));
  return {
    setC: set('pc', i32add(get('c'), `(i32.shl ${i32add(i32mul(get('i'), get('n')), get('j'))} (i32.const 2))`)),
    init: (value: (r: number, q: number) => string): string => each((r, q) => set(acc(r, q), value(r, q))),
    loadC: (r: number, q: number): string => `(v128.load ${cAt(r, q)})`,
    step: (splat: (r: number) => string): string =>
      [
        ...range(h).map((q) => set(`b${q}`, `(v128.load offset=${16 * q} ${get('pb')})`)),
        ...range(4).map((r) => set(`s${r}`, splat(r))),
        each((r, q) => set(acc(r, q), add(get(acc(r, q)), `(f32x4.mul ${get(`s${r}`)} ${get(`b${q}`)})`))),
      ].join('\n'),
    store: (): string => each((r, q) => `(v128.store ${cAt(r, q)} ${get(acc(r, q))})`),
  };
}

/** Loops i over `rows` in steps of 4 and j over n in blocks of 8 columns, then a last block of 4 where n is not a multiple of 8. */
function blockLoops(rows: string, block: (w: 8 | 4) => string): string {
  return `
      (local.set $i (i32.const 0))
      (block $id (loop $il
        (br_if $id (i32.ge_u ${get('i')} ${rows}))
        (local.set $j (i32.const 0))
        (block $jd (loop $jl
          (br_if $jd (i32.gt_u (i32.add ${get('j')} (i32.const 8)) ${get('n')}))
          ${block(8)}
          (local.set $j (i32.add ${get('j')} (i32.const 8)))
          (br $jl)))
        (if (i32.lt_u ${get('j')} ${get('n')}) (then
          ${block(4)}))
        (local.set $i (i32.add ${get('i')} (i32.const 4)))
        (br $il)))`;
}

/**
 * One register block of gemm_tn: C[i + r, j + ·] += A[p, i + r] · B[p, j + ·] over the tiles
 * p ∈ [tb, te).
 */
function gemmTnBlock(w: 8 | 4): string {
  const b = registerBlock(w);
  return `
          ${b.setC}
          ${b.init(b.loadC)}
          ${set('pa', i32add(get('a'), i32add(i32mul(get('tb'), get('ms')), `(i32.shl ${get('i')} (i32.const 2))`)))}
          ${set('pb', i32add(get('b'), i32add(i32mul(get('tb'), get('ns')), `(i32.shl ${get('j')} (i32.const 2))`)))}
          (local.set $p ${get('tb')})
          (block $pd${w} (loop $pl${w}
            (br_if $pd${w} (i32.ge_u ${get('p')} ${get('te')}))
            ${b.step((r) => `(v128.load32_splat offset=${4 * r} ${get('pa')})`)}
            (local.set $pa (i32.add ${get('pa')} ${get('ms')}))
            (local.set $pb (i32.add ${get('pb')} ${get('ns')}))
            (local.set $p (i32.add ${get('p')} (i32.const 1)))
            (br $pl${w})))
          ${b.store()}`;
}

/**
 * C[m, n] += Σ_p A[p, m] · B[p, n] for A [T, m], B [T, n] (row-major, m and n multiples of 4):
 * the filter gradient's products, whose inner dimension is the tiles. XNNPACK would pack B (all
 * T·n floats) on every call; this reads both operands in place, in 4 × 8 register blocks.
 */
const gemmTn = `
  (func (export "gemm_tn") (param $a i32) (param $b i32) (param $c i32) (param $t i32) (param $m i32) (param $n i32)
    (local $ms i32) (local $ns i32) (local $tb i32) (local $te i32) (local $i i32) (local $j i32) (local $p i32) (local $pa i32) (local $pb i32) (local $pc i32)
    ${locals('acc', 8, 'v128')} ${locals('s', 4, 'v128')} ${locals('b', 2, 'v128')}
    (local.set $ms (i32.shl ${get('m')} (i32.const 2)))
    (local.set $ns (i32.shl ${get('n')} (i32.const 2)))
    (local.set $tb (i32.const 0))
    (block $bd (loop $bl
      (br_if $bd (i32.ge_u ${get('tb')} ${get('t')}))
      (local.set $te (i32.add ${get('tb')} (i32.const ${GEMM_ROWS_PER_BLOCK})))
      (if (i32.gt_u ${get('te')} ${get('t')}) (then (local.set $te ${get('t')})))
      ${blockLoops(get('m'), gemmTnBlock)}
      (local.set $tb ${get('te')})
      (br $bl)))
  )`;

/**
 * One register block of gemm_nn: C[t + r, j + ·] = Σ_q A[t + r, q] · B[q, j + ·] over the whole
 * (short) inner dimension k (here i is the row t).
 */
function gemmNnBlock(w: 8 | 4): string {
  const b = registerBlock(w);
  const rowOffset = (r: number): string => (r === 0 ? '(i32.const 0)' : get(`ks${r}`));
  return `
          ${b.init(() => '(v128.const f32x4 0 0 0 0)')}
          ${set('pa', i32add(get('a'), i32mul(get('i'), get('ks'))))}
          ${set('pb', i32add(get('b'), `(i32.shl ${get('j')} (i32.const 2))`))}
          ${set('pe', i32add(get('pa'), get('ks')))}
          (block $qd${w} (loop $ql${w}
            (br_if $qd${w} (i32.ge_u ${get('pa')} ${get('pe')}))
            ${b.step((r) => `(v128.load32_splat ${i32add(get('pa'), rowOffset(r))})`)}
            (local.set $pa (i32.add ${get('pa')} (i32.const 4)))
            (local.set $pb (i32.add ${get('pb')} ${get('ns')}))
            (br $ql${w})))
          ${b.setC}
          ${b.store()}`;
}

/**
 * C[t, n] = Σ_q A[t, q] · B[q, n] for A [T, k], B [k, n] (row-major; T, k and n multiples of 4):
 * the forward products of narrow convs, where XNNPACK's per-call set-up and its small-k kernels
 * cost more than the multiplies. 4 × 8 register blocks, B (k × n, small) read from L1.
 */
const gemmNn = `
  (func (export "gemm_nn") (param $a i32) (param $b i32) (param $c i32) (param $t i32) (param $k i32) (param $n i32)
    (local $ks i32) (local $ks1 i32) (local $ks2 i32) (local $ks3 i32) (local $ns i32) (local $i i32) (local $j i32) (local $pa i32) (local $pb i32) (local $pc i32) (local $pe i32)
    ${locals('acc', 8, 'v128')} ${locals('s', 4, 'v128')} ${locals('b', 2, 'v128')}
    (local.set $ks (i32.shl ${get('k')} (i32.const 2)))
    (local.set $ks1 ${get('ks')})
    (local.set $ks2 (i32.shl ${get('ks')} (i32.const 1)))
    (local.set $ks3 (i32.add ${get('ks2')} ${get('ks')}))
    (local.set $ns (i32.shl ${get('n')} (i32.const 2)))
    ${blockLoops(get('t'), gemmNnBlock)}
  )`;

/** Byte offsets of the tile's four outputs in y [nb, 2th, 2tw, c]: q0 (top left), q1, q2, q3. */
const outputTileBase = `
    ${set('q0', i32add(get('y'), i32mul(i32add(i32mul(i32add(i32mul(get('n'), `(i32.shl ${get('th')} (i32.const 1))`), `(i32.shl ${get('ty')} (i32.const 1))`), `(i32.shl ${get('tw')} (i32.const 1))`), `(i32.shl ${get('tx')} (i32.const 1))`), get('cs'))))}
    ${set('q1', i32add(get('q0'), get('cs')))}
    ${set('q2', i32add(get('q0'), get('rs')))}
    ${set('q3', i32add(get('q2'), get('cs')))}`;

const outputPrologue = (table: string): string => `
    (local.set $cs (i32.shl ${get('c')} (i32.const 2)))
    (local.set $rs ${i32mul(`(i32.shl ${get('tw')} (i32.const 1))`, get('cs'))})
    ${loadPointers(table)}`;

const outTf = `
  (func (export "out_tf") (param $mp i32) (param $y i32) (param $nb i32) (param $th i32) (param $tw i32) (param $c i32) (param $b i32)
    ${loopLocals} (local $rs i32) (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32) (local $bias v128) ${locals('p', 16, 'i32')} ${locals('m', 16, 'v128')} ${locals('u', 4, 'v128')} ${locals('w', 4, 'v128')}
    ${outputPrologue('mp')}
    ${tileLoops(
      outputTileBase,
      `${lines(16, (t) => set(`m${t}`, `(v128.load ${i32add(get(`p${t}`), get('k'))})`))}
      ${lines(4, (b) => set(`u${b}`, add(add(get(`m${b}`), get(`m${4 + b}`)), get(`m${8 + b}`))))}
      ${lines(4, (b) => set(`w${b}`, sub(sub(get(`m${4 + b}`), get(`m${8 + b}`)), get(`m${12 + b}`))))}
      ${set('bias', `(v128.load ${i32add(get('b'), get('k'))})`)}
      (v128.store ${i32add(get('q0'), get('k'))} ${add(add(add(get('u0'), get('u1')), get('u2')), get('bias'))})
      (v128.store ${i32add(get('q1'), get('k'))} ${add(sub(sub(get('u1'), get('u2')), get('u3')), get('bias'))})
      (v128.store ${i32add(get('q2'), get('k'))} ${add(add(add(get('w0'), get('w1')), get('w2')), get('bias'))})
      (v128.store ${i32add(get('q3'), get('k'))} ${add(sub(sub(get('w1'), get('w2')), get('w3')), get('bias'))})`,
      lines(16, (t) => set(`p${t}`, i32add(get(`p${t}`), get('cs')))),
    )})`;

/** dM = A dy Aᵀ with A = [[1,0],[1,1],[1,−1],[0,−1]]: e = A dy (rows), then M = e Aᵀ (columns). */
const dyTf = `
  (func (export "dy_tf") (param $mp i32) (param $y i32) (param $nb i32) (param $th i32) (param $tw i32) (param $c i32)
    ${loopLocals} (local $rs i32) (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32) ${locals('p', 16, 'i32')} ${locals('g', 4, 'v128')} ${locals('e', 8, 'v128')}
    ${outputPrologue('mp')}
    ${tileLoops(
      outputTileBase,
      `${lines(4, (t) => set(`g${t}`, `(v128.load ${i32add(get(`q${t}`), get('k'))})`))}
      ${lines(2, (j) =>
        [
          set(`e${j}`, get(`g${j}`)),
          set(`e${2 + j}`, add(get(`g${j}`), get(`g${2 + j}`))),
          set(`e${4 + j}`, sub(get(`g${j}`), get(`g${2 + j}`))),
          set(`e${6 + j}`, `(f32x4.neg ${get(`g${2 + j}`)})`),
        ].join('\n'),
      )}
      ${lines(4, (a) =>
        [
          `(v128.store ${i32add(get(`p${a * 4}`), get('k'))} ${get(`e${2 * a}`)})`,
          `(v128.store ${i32add(get(`p${a * 4 + 1}`), get('k'))} ${add(get(`e${2 * a}`), get(`e${2 * a + 1}`))})`,
          `(v128.store ${i32add(get(`p${a * 4 + 2}`), get('k'))} ${sub(get(`e${2 * a}`), get(`e${2 * a + 1}`))})`,
          `(v128.store ${i32add(get(`p${a * 4 + 3}`), get('k'))} (f32x4.neg ${get(`e${2 * a + 1}`)}))`,
        ].join('\n'),
      )}`,
      lines(16, (t) => set(`p${t}`, i32add(get(`p${t}`), get('cs')))),
    )})`;

const adamParams = ['b1', 'b2', 'ob1', 'ob2', 'eps', 'nlr', 'c1', 'c2'];

/**
 * The update's loop over byte offsets k from $k up to $limit, in one kind of lane: 'f32x4' (4
 * floats a step, on v128 locals named in upper case: the splatted parameters and $G, $M, $V) or
 * 'f32' (one float a step, on the f32 parameters and $g1, $m2, $v2).
 */
function adamLoop(lane: 'f32x4' | 'f32', limit: string): string {
  const vec = lane === 'f32x4';
  const name = (p: string): string => get(vec ? p.toUpperCase() : p);
  const mem = vec ? 'v128' : 'f32';
  const [g, m, v] = vec ? ['G', 'M', 'V'] : ['g1', 'm2', 'v2'];
  const op = (o: string, ...a: string[]): string => `(${lane}.${o} ${a.join(' ')})`;
  const load = (base: string): string => `(${mem}.load ${i32add(get(base), get('k'))})`;
  const store = (base: string, value: string): string => `(${mem}.store ${i32add(get(base), get('k'))} ${value})`;
  const label = vec ? 'v' : 's';
  return `
    (block $${label}d (loop $${label}l
      (br_if $${label}d (i32.ge_u ${get('k')} ${get(limit)}))
      ${set(g, load('g'))}
      ${set(m, op('add', op('mul', load('m'), name('b1')), op('mul', get(g), name('ob1'))))}
      ${set(v, op('add', op('mul', load('v'), name('b2')), op('mul', op('mul', get(g), get(g)), name('ob2'))))}
      ${store('m1', get(m))}
      ${store('v1', get(v))}
      ${store('x1', op('add', op('mul', op('div', op('div', get(m), name('c1')), op('add', op('sqrt', op('div', get(v), name('c2'))), name('eps'))), name('nlr')), load('x')))}
      (local.set $k (i32.add ${get('k')} (i32.const ${vec ? 16 : 4})))
      (br $${label}l)))`;
}

/**
 * adam(x, m, v, g, x1, m1, v1, n, β1, β2, 1 − β1, 1 − β2, ε, −lr, c1, c2): one Adam update of n
 * floats (kernels/adam.ts), 4 at a time, then one at a time for the last n mod 4:
 *   m1 = m β1 + g (1 − β1),  v1 = v β2 + g² (1 − β2),  x1 = (m1 / c1) / (√(v1 / c2) + ε) · (−lr) + x.
 * Every f32x4 and f32 operation is IEEE single precision, correctly rounded, as tfjs's separate
 * element-wise kernels are, so the result is bit-identical to the stock op sequence.
 */
const adam = `
  (func (export "adam") (param $x i32) (param $m i32) (param $v i32) (param $g i32) (param $x1 i32) (param $m1 i32) (param $v1 i32) (param $n i32)
      ${adamParams.map((p) => `(param $${p} f32)`).join(' ')}
    (local $k i32) (local $end i32) (local $whole i32)
    ${adamParams.map((p) => `(local $${p.toUpperCase()} v128)`).join(' ')}
    (local $G v128) (local $M v128) (local $V v128) (local $g1 f32) (local $m2 f32) (local $v2 f32)
    ${adamParams.map((p) => set(p.toUpperCase(), `(f32x4.splat ${get(p)})`)).join('\n    ')}
    (local.set $end (i32.shl ${get('n')} (i32.const 2)))
    (local.set $whole (i32.and ${get('end')} (i32.const -16)))
    (local.set $k (i32.const 0))
    ${adamLoop('f32x4', 'whole')}
    ${adamLoop('f32', 'end')}
  )`;

/** The whole module's text. */
export function winogradWat(): string {
  return `(module
  (import "env" "memory" (memory 1))
${inTf}
${gemmTn}
${gemmNn}
${outTf}
${dyTf}
${adam}
)
`;
}
