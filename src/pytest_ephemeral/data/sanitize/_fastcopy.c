/* The sanitizer's hot path, compiled: HMAC-SHA256 of a value, the fakes and
 * hashes drawn from it, and the rewriting of a block of COPY rows.
 *
 * Optional: when this module is not built, _engine.py and _pgdump.py do the
 * same in Python. The two give the same output, byte for byte, on every
 * input (tests/data/test_fastcopy.py compares them on generated values and
 * whole dumps): every replacement is a function of the salt and the original
 * only, and a sanitized dump must not change with the machine that made it.
 *
 * What is here reproduces, for the kinds it knows (the KINDS tuple), the
 * generators of _fakes.py and the renders of _transforms.py: same digest
 * bytes, same lists (handed over once by set_words), same formatting. A value
 * it does not handle the same way (a numeric COPY escape, a format-keeping
 * hash of a long or non-ASCII value, a number written in a way Python's
 * int() or float() reads but the strict syntax here does not) goes to the
 * Python function the caller gave (the fallback), so the result is Python's.
 *
 * SHA-256 (FIPS 180-4) is written here twice: portable C, and with the x86
 * SHA extensions where the processor has them (chosen at import; the
 * environment variable EPH_SHA_PORTABLE=1 forces the portable one, which the
 * tests use to check both against hashlib).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "_copyfield.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ------------------------------------------------------------------ SHA-256 */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV256[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void compress_portable(uint32_t h[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                   (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = k + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + ((e & f) ^ (~e & g)) +
                          K256[i] + w[i];
            uint32_t t2 = (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
        p += 64;
    }
}

#ifdef HAVE_SHANI
__attribute__((target("sha,sse4.1"))) static void compress_shani(uint32_t h[8], const uint8_t *p,
                                                                  size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i state1 = _mm_loadu_si128((const __m128i *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);          /* CDAB */
    state1 = _mm_shuffle_epi32(state1, 0x1B);    /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8); /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0); /* CDGH */
    while (blocks--) {
        __m128i abef = state0, cdgh = state1, msg[4];
        for (int g = 0; g < 4; g++)
            msg[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), mask);
        for (int g = 0; g < 16; g++) {
            __m128i m = _mm_add_epi32(msg[g & 3], _mm_loadu_si128((const __m128i *)&K256[4 * g]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, m);
            m = _mm_shuffle_epi32(m, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, m);
            if (g < 12) {
                __m128i next = _mm_sha256msg1_epu32(msg[g & 3], msg[(g + 1) & 3]);
                next = _mm_add_epi32(next, _mm_alignr_epi8(msg[(g + 3) & 3], msg[(g + 2) & 3], 4));
                msg[g & 3] = _mm_sha256msg2_epu32(next, msg[(g + 3) & 3]);
            }
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)&h[0], state0);
    _mm_storeu_si128((__m128i *)&h[4], state1);
}
#endif

static void (*compress)(uint32_t h[8], const uint8_t *p, size_t blocks) = compress_portable;

typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    size_t fill;
    uint64_t total;
} Sha;

static void sha_update(Sha *s, const uint8_t *p, size_t n) {
    s->total += n;
    if (s->fill) {
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->buf + s->fill, p, take);
        s->fill += take;
        p += take;
        n -= take;
        if (s->fill < 64) return;
        compress(s->h, s->buf, 1);
        s->fill = 0;
    }
    if (n >= 64) {
        compress(s->h, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    memcpy(s->buf, p, n);
    s->fill = n;
}

static void sha_final(Sha *s, uint8_t out[32]) {
    uint64_t bits = s->total * 8;
    s->buf[s->fill++] = 0x80;
    if (s->fill > 56) {
        memset(s->buf + s->fill, 0, 64 - s->fill);
        compress(s->h, s->buf, 1);
        s->fill = 0;
    }
    memset(s->buf + s->fill, 0, 56 - s->fill);
    for (int i = 0; i < 8; i++) s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    compress(s->h, s->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void sha_start(Sha *s, const uint32_t h[8], uint64_t done) {
    memcpy(s->h, h, sizeof s->h);
    s->fill = 0;
    s->total = done;
}

/* sha256(d) of a 32-byte digest, in place: the redraws. */
static void sha256_32(uint8_t d[32]) {
    Sha s;
    sha_start(&s, IV256, 0);
    sha_update(&s, d, 32);
    sha_final(&s, d);
}

/* ----------------------------------------------------------------- the lists */

typedef struct {
    const char *s;
    Py_ssize_t n;
} Word;

typedef struct {
    Word *w;
    Py_ssize_t n;
} List;

enum { L_FIRST, L_LAST, L_FIRST_L, L_LAST_L, L_DOMAINS, L_WORDS, L_STREET_NAMES, L_STREET_SFX,
       L_CITIES, L_CITY_PFX, L_COUNTRIES, L_COMPANY_SFX, L_COUNT };

static const char *const LIST_NAMES[L_COUNT] = {
    "first", "last", "first_l", "last_l", "domains", "words", "street_names", "street_sfx",
    "cities", "city_pfx", "countries", "company_sfx",
};

static List lists[L_COUNT];
static PyObject *list_refs = NULL; /* keeps the strings the pointers point into */

static PyObject *fast_set_words(PyObject *Py_UNUSED(module), PyObject *mapping) {
    if (!PyDict_Check(mapping)) {
        PyErr_SetString(PyExc_TypeError, "set_words() takes a dict of tuples of str");
        return NULL;
    }
    List fresh[L_COUNT];
    memset(fresh, 0, sizeof fresh);
    PyObject *refs = PyList_New(0);
    if (refs == NULL) return NULL;
    for (int i = 0; i < L_COUNT; i++) {
        PyObject *seq = PyDict_GetItemString(mapping, LIST_NAMES[i]);
        if (seq == NULL || !PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) == 0) {
            PyErr_Format(PyExc_ValueError, "set_words(): %s is missing or empty", LIST_NAMES[i]);
            goto fail;
        }
        Py_ssize_t n = PyTuple_GET_SIZE(seq);
        fresh[i].w = PyMem_Malloc(sizeof(Word) * (size_t)n);
        if (fresh[i].w == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        fresh[i].n = n;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *item = PyTuple_GET_ITEM(seq, j);
            if (!PyUnicode_Check(item) || !PyUnicode_IS_ASCII(item)) {
                PyErr_Format(PyExc_ValueError, "set_words(): %s holds a non-ASCII word",
                             LIST_NAMES[i]);
                goto fail;
            }
            fresh[i].w[j].s = PyUnicode_AsUTF8AndSize(item, &fresh[i].w[j].n);
        }
        if (PyList_Append(refs, seq) < 0) goto fail;
    }
    for (int i = 0; i < L_COUNT; i++) {
        PyMem_Free(lists[i].w);
        lists[i] = fresh[i];
    }
    Py_XSETREF(list_refs, refs);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < L_COUNT; i++) PyMem_Free(fresh[i].w);
    Py_DECREF(refs);
    return NULL;
}

/* ---------------------------------------------------------------- rendering */

#define OUT_MAX 512
#define FAST_LINES 64 /* _FAST_LINES of _pgdump.py */ /* longer than any output rendered here */

typedef struct {
    char *p;
    char *start;
} Out;

static inline void put(Out *o, const char *s, Py_ssize_t n) {
    memcpy(o->p, s, (size_t)n);
    o->p += n;
}
static inline void put_word(Out *o, const Word *w) { put(o, w->s, w->n); }
static inline void put_c(Out *o, char c) { *o->p++ = c; }
static inline void put_s(Out *o, const char *s) { put(o, s, (Py_ssize_t)strlen(s)); }
/* v in decimal, at least width digits (zeros before): "%0*lu" without printf. */
static inline void put_u(Out *o, unsigned long v, int width) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) digits[n++] = '0';
    while (n) *o->p++ = digits[--n];
}
static const char HEX[] = "0123456789abcdef";
static inline void put_hex(Out *o, const uint8_t *d, int n) {
    for (int i = 0; i < n; i++) {
        *o->p++ = HEX[d[i] >> 4];
        *o->p++ = HEX[d[i] & 15];
    }
}

static inline unsigned two(const uint8_t *d, int i) { return (unsigned)d[i] << 8 | d[i + 1]; }
static inline const Word *pick(int list, unsigned v) {
    return &lists[list].w[v % (unsigned long)lists[list].n];
}

enum {
    K_FIRST_NAME, K_LAST_NAME, K_NAME, K_EMAIL, K_EMAIL_U, K_USERNAME, K_USERNAME_U, K_URL,
    K_URL_U, K_COMPANY, K_PHONE, K_STREET, K_CITY, K_POSTCODE, K_ADDRESS, K_COUNTRY,
    K_SENTENCE, K_DOB, K_IPV4, K_IBAN, K_CREDIT_CARD, K_HEX, K_FORMAT, K_RELATIVE, K_ABSOLUTE,
    K_COUNT
};

static const char *const KIND_NAMES[K_COUNT] = {
    "first_name", "last_name", "name", "email", "email_unique", "username", "username_unique",
    "url", "url_unique", "company", "phone", "street", "city", "postcode", "address",
    "country", "sentence", "date_of_birth", "ipv4", "iban", "credit_card", "hash", "hash_format",
    "noise_relative", "noise_absolute",
};

static void render_email(Out *o, const uint8_t *d, int unique) {
    const Word *first = pick(L_FIRST_L, two(d, 0)), *last = pick(L_LAST_L, two(d, 2));
    const Word *domain = &lists[L_DOMAINS].w[d[4] % 3];
    switch (d[5] & 3) {
    case 0: put_word(o, first); put_c(o, '.'); put_word(o, last); break;
    case 1: put(o, first->s, 1); put_word(o, last); break;
    case 2: put_word(o, first); put_word(o, last); put_u(o, d[6] % 90 + 10, 0); break;
    default: put_word(o, first); put_c(o, '_'); put_word(o, last); break;
    }
    if (unique) {
        put_c(o, '.');
        put_hex(o, d + 20, 6);
    }
    put_c(o, '@');
    put_word(o, domain);
}

static void render_username(Out *o, const uint8_t *d) {
    const Word *first = pick(L_FIRST_L, two(d, 0)), *last = pick(L_LAST_L, two(d, 2));
    switch (d[5] & 3) {
    case 0: put_word(o, first); put(o, last->s, 1); put_u(o, d[6] % 90 + 10, 0); break;
    case 1: put_word(o, first); put_c(o, '.'); put_word(o, last); break;
    case 2: put(o, first->s, 1); put_word(o, last); break;
    default:
        put_word(o, first); put_c(o, '_'); put(o, last->s, last->n < 3 ? last->n : 3);
        put_u(o, d[6] % 9 + 1, 0);
        break;
    }
}

static void render_url_base(Out *o, const uint8_t *d) {
    put_s(o, "https://www.");
    put_word(o, pick(L_WORDS, two(d, 0)));
    put_word(o, pick(L_WORDS, two(d, 2)));
    put_s(o, ".example/");
    put_word(o, pick(L_WORDS, two(d, 6)));
}

static void render_city(Out *o, const uint8_t *d) {
    unsigned prefix = d[19];
    if ((prefix & 3) == 0) {
        put_word(o, pick(L_CITY_PFX, prefix >> 2));
        put_c(o, ' ');
    }
    put_word(o, pick(L_CITIES, two(d, 17)));
}

static void render_street(Out *o, const uint8_t *d) {
    put_u(o, 1 + two(d, 10) % 9999, 0);
    put_c(o, ' ');
    put_word(o, pick(L_STREET_NAMES, two(d, 12)));
    put_c(o, ' ');
    put_word(o, pick(L_STREET_SFX, d[16]));
}

static void render_postcode(Out *o, const uint8_t *d) {
    put_u(o, ((unsigned long)d[26] << 16 | (unsigned long)d[27] << 8 | d[28]) % 100000, 5);
}

/* Python's str.capitalize() of an ASCII word. */
static void put_capitalized(Out *o, const Word *w) {
    for (Py_ssize_t i = 0; i < w->n; i++) {
        char c = w->s[i];
        if (i == 0 && c >= 'a' && c <= 'z') c = (char)(c - 32);
        else if (i > 0 && c >= 'A' && c <= 'Z') c = (char)(c + 32);
        *o->p++ = c;
    }
}

/* date.fromordinal(n).isoformat() (Hinnant's civil_from_days). */
static void put_date(Out *o, long ordinal) {
    long z = ordinal - 719163 + 719468; /* days since 0000-03-01 */
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long day = doy - (153 * mp + 2) / 5 + 1;
    long month = mp < 10 ? mp + 3 : mp - 9;
    if (month <= 2) y += 1;
    o->p += sprintf(o->p, "%04ld-%02ld-%02ld", y, month, day);
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int decimal_point_ok = -1;

static int c_numbers_ok(void) {
    /* strtod and printf follow LC_NUMERIC; Python's float() and % do not. */
    const char *point = localeconv()->decimal_point;
    return point != NULL && point[0] == '.' && point[1] == '\0';
}

/* -1: not handled here (the fallback decides, possibly with an error). */
static Py_ssize_t render_noise(Out *o, const uint8_t *d, const char *v, Py_ssize_t n, int relative,
                               double amount) {
    if (n == 0 || n > 40) return -1;
    Py_ssize_t i = v[0] == '-' ? 1 : 0, digits = 0, point = -1;
    for (; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9') digits++;
        else if (v[i] == '.' && point < 0) point = i;
        else return -1;
    }
    if (digits == 0) return -1;
    double u = (double)le64(d) / 9223372036854775808.0 - 1.0;
    if (point < 0) {
        if (digits > 18) return -1;
        long long whole = 0; /* v is not NUL-terminated: read its n bytes only */
        for (Py_ssize_t j = v[0] == '-' ? 1 : 0; j < n; j++) whole = whole * 10 + (v[j] - '0');
        if (v[0] == '-') whole = -whole;
        double x = (double)whole;
        double moved = relative ? x * (1.0 + u * amount) : x + u * amount;
        if (!isfinite(moved)) return -1;
        double r = round(moved);
        if (fabs(moved - r) == 0.5) r = 2.0 * round(moved / 2.0);
        if (r == 0.0) r = 0.0; /* str(round(-0.4)) is "0" */
        o->p += snprintf(o->p, OUT_MAX - 8, "%.0f", r);
        return o->p - o->start;
    }
    if (decimal_point_ok < 0) decimal_point_ok = c_numbers_ok();
    if (!decimal_point_ok) return -1;
    char tmp[48];
    memcpy(tmp, v, (size_t)n);
    tmp[n] = '\0';
    double number = strtod(tmp, NULL);
    double moved = relative ? number * (1.0 + u * amount) : number + u * amount;
    if (!isfinite(moved)) return -1;
    int decimals = (int)(n - point - 1);
    int w = snprintf(o->p, OUT_MAX - 8, "%.*f", decimals, moved);
    if (w < 0 || w >= OUT_MAX - 8) return -1;
    o->p += w;
    return o->p - o->start;
}

/* Recent replacements of one transformation (a value's replacement never
 * changes): names, cities and the e-mail of a customer's every order come
 * again and again. Direct-mapped, short values only; off for good once
 * fewer than 1 lookup in 16 hits (unique columns), as in _engine.py. */
#define CACHE_SLOTS 1024
#define CACHE_VALUE 48
#define CACHE_OUT 72
#define CACHE_ROUND 4096

typedef struct {
    uint64_t h;
    uint8_t n, m, used;
    char value[CACHE_VALUE];
    char out[CACHE_OUT];
} CacheSlot;

typedef struct {
    PyObject_HEAD
    CacheSlot *cache;
    long lookups, hits;
    int caching;
    uint32_t inner[8], outer[8];
    uint8_t *prefix; /* label + NUL */
    Py_ssize_t prefix_len;
    int kind;
    int length;    /* hash */
    double amount; /* noise */
    int redraws, safe;
    PyObject *copy_fallback, *value_fallback;
} Keyed;

/* The output of the render for digest d and value v, in o; -1: not here. */
static Py_ssize_t render(const Keyed *k, const uint8_t *d, const char *v, Py_ssize_t n, Out *o) {
    o->p = o->start;
    switch (k->kind) {
    case K_FIRST_NAME: put_word(o, pick(L_FIRST, two(d, 0))); break;
    case K_LAST_NAME: put_word(o, pick(L_LAST, two(d, 2))); break;
    case K_NAME:
        put_word(o, pick(L_FIRST, two(d, 0)));
        put_c(o, ' ');
        put_word(o, pick(L_LAST, two(d, 2)));
        break;
    case K_EMAIL: render_email(o, d, 0); break;
    case K_EMAIL_U: render_email(o, d, 1); break;
    case K_USERNAME: render_username(o, d); break;
    case K_USERNAME_U: render_username(o, d); put_c(o, '_'); put_hex(o, d + 20, 6); break;
    case K_URL:
        render_url_base(o, d);
        put_c(o, '/');
        put_word(o, pick(L_WORDS, two(d, 8)));
        break;
    case K_URL_U: render_url_base(o, d); put_c(o, '/'); put_hex(o, d + 20, 6); break;
    case K_COMPANY: {
        const Word *first = pick(L_LAST, two(d, 2));
        put_word(o, first);
        switch (d[4] & 3) {
        case 0: put_c(o, ' '); put_word(o, pick(L_COMPANY_SFX, d[5])); break;
        case 1: put_c(o, '-'); put_word(o, pick(L_LAST, two(d, 6))); break;
        case 2: put_s(o, " & "); put_word(o, pick(L_LAST, two(d, 6))); break;
        default:
            put_s(o, ", ");
            put_word(o, pick(L_LAST, two(d, 6)));
            put_s(o, " and ");
            put_word(o, pick(L_LAST, two(d, 8)));
        }
        break;
    }
    case K_PHONE: {
        unsigned long area = 200 + two(d, 0) % 800, exchange = 200 + two(d, 2) % 800;
        unsigned long line = two(d, 4) % 10000;
        const char *formats[4] = {"(%lu) %lu-%04lu", "%lu-%lu-%04lu", "+1 %lu %lu %04lu",
                                  "%lu.%lu.%04lu"};
        o->p += sprintf(o->p, formats[d[6] & 3], area, exchange, line);
        break;
    }
    case K_STREET: render_street(o, d); break;
    case K_CITY: render_city(o, d); break;
    case K_POSTCODE: render_postcode(o, d); break;
    case K_ADDRESS:
        render_street(o, d);
        put_s(o, ", ");
        render_city(o, d);
        put_c(o, ' ');
        render_postcode(o, d);
        break;
    case K_COUNTRY: put_word(o, pick(L_COUNTRIES, two(d, 0))); break;
    case K_SENTENCE: {
        int count = 6 + d[0] % 7;
        for (int i = 0; i < count; i++) {
            const Word *w = pick(L_WORDS, two(d, 1 + 2 * i));
            if (i == 0) put_capitalized(o, w);
            else {
                put_c(o, ' ');
                put_word(o, w);
            }
        }
        put_c(o, '.');
        break;
    }
    case K_DOB:
        put_date(o, 708205 + (long)(((unsigned long)d[0] << 16 | (unsigned long)d[1] << 8 | d[2]) %
                                    24837));
        break;
    case K_IPV4:
        switch (d[0] % 3) {
        case 0: o->p += sprintf(o->p, "10.%u.%u.%u", d[1], d[2], 1 + d[3] % 254); break;
        case 1: o->p += sprintf(o->p, "172.%u.%u.%u", 16 + d[1] % 16, d[2], 1 + d[3] % 254); break;
        default: o->p += sprintf(o->p, "192.168.%u.%u", d[2], 1 + d[3] % 254);
        }
        break;
    case K_IBAN: {
        char bban[19];
        sprintf(bban, "%018llu", (unsigned long long)(le64(d + 8) % 1000000000000000000ULL));
        unsigned rest = 0;
        for (int i = 0; i < 18; i++) rest = (rest * 10 + (unsigned)(bban[i] - '0')) % 97;
        const char *tail = "131400";
        for (int i = 0; i < 6; i++) rest = (rest * 10 + (unsigned)(tail[i] - '0')) % 97;
        o->p += sprintf(o->p, "DE%02u%s", 98 - rest, bban);
        break;
    }
    case K_CREDIT_CARD: {
        char body[16];
        sprintf(body, "4%014llu", (unsigned long long)(le64(d + 8) % 100000000000000ULL));
        int total = 0;
        for (int i = 0; i < 15; i++) {
            int digit = body[14 - i] - '0';
            if (i % 2 == 0) {
                digit *= 2;
                if (digit > 9) digit -= 9;
            }
            total += digit;
        }
        put(o, body, 15);
        put_c(o, (char)('0' + (10 - total % 10) % 10));
        break;
    }
    case K_HEX: {
        char full[64];
        Out h = {full, full};
        put_hex(&h, d, 32);
        put(o, full, k->length < 64 ? k->length : 64);
        break;
    }
    case K_FORMAT:
        if (n > 32) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c >= 0x80) return -1;
            if (c >= '0' && c <= '9') c = (unsigned char)('0' + d[i] % 10);
            else if (c >= 'a' && c <= 'z') c = (unsigned char)('a' + d[i] % 26);
            else if (c >= 'A' && c <= 'Z') c = (unsigned char)('A' + d[i] % 26);
            *o->p++ = (char)c;
        }
        break;
    case K_RELATIVE: return render_noise(o, d, v, n, 1, k->amount);
    case K_ABSOLUTE: return render_noise(o, d, v, n, 0, k->amount);
    default: return -1;
    }
    return o->p - o->start;
}

static void keyed_digest(const Keyed *k, const char *v, Py_ssize_t n, uint8_t d[32]) {
    Sha s;
    sha_start(&s, k->inner, 64);
    sha_update(&s, k->prefix, (size_t)k->prefix_len);
    sha_update(&s, (const uint8_t *)v, (size_t)n);
    sha_final(&s, d);
    sha_start(&s, k->outer, 64);
    sha_update(&s, d, 32);
    sha_final(&s, d);
}

/* The replacement of value v in o (as transform does in _transforms.py);
 * its length, or -1: not handled here. */
static Py_ssize_t transform(const Keyed *k, const char *v, Py_ssize_t n, Out *o) {
    uint8_t d[32];
    keyed_digest(k, v, n, d);
    Py_ssize_t m = render(k, d, v, n, o);
    if (m < 0 || !k->redraws || m != n || memcmp(o->start, v, (size_t)n) != 0) return m;
    for (int i = 0; i < 16; i++) {
        sha256_32(d);
        m = render(k, d, v, n, o);
        if (m < 0 || m != n || memcmp(o->start, v, (size_t)n) != 0) break;
    }
    return m;
}

/* transform() through the cache of recent replacements. */
static Py_ssize_t transform_cached(Keyed *k, const char *v, Py_ssize_t n, Out *o) {
    if (!k->caching || n > CACHE_VALUE) return transform(k, v, n, o);
    if (k->cache == NULL) {
        k->cache = PyMem_Calloc(CACHE_SLOTS, sizeof(CacheSlot));
        if (k->cache == NULL) {
            k->caching = 0;
            return transform(k, v, n, o);
        }
    }
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: only picks the slot */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)v[i]) * 1099511628211ULL;
    CacheSlot *c = &k->cache[(h ^ (h >> 31)) & (CACHE_SLOTS - 1)];
    k->lookups++;
    if (c->used && c->h == h && c->n == n && memcmp(c->value, v, (size_t)n) == 0) {
        k->hits++;
        memcpy(o->start, c->out, c->m);
        o->p = o->start + c->m;
        return c->m;
    }
    if (k->lookups >= CACHE_ROUND) {
        if (k->hits * 16 < k->lookups) { /* values that do not repeat: stop */
            k->caching = 0;
            PyMem_Free(k->cache);
            k->cache = NULL;
        }
        k->lookups = k->hits = 0;
    }
    Py_ssize_t m = transform(k, v, n, o);
    if (m >= 0 && m <= CACHE_OUT && k->cache != NULL) {
        c->used = 1;
        c->h = h;
        c->n = (uint8_t)n;
        c->m = (uint8_t)m;
        memcpy(c->value, v, (size_t)n);
        memcpy(c->out, o->start, (size_t)m);
    }
    return m;
}

/* ------------------------------------------------------------- COPY fields */


typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int buf_need(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const char *s, size_t n) {
    if (buf_need(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int buf_put_encoded(Buf *b, const char *s, size_t n) {
    if (buf_need(b, 2 * n) < 0) return -1;
    char *p = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], e = 0;
        switch (c) {
        case '\\': e = '\\'; break;
        case '\t': e = 't'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\v': e = 'v'; break;
        }
        if (e) {
            *p++ = '\\';
            *p++ = e;
        } else {
            *p++ = c;
        }
    }
    b->len = (size_t)(p - b->p);
    return 0;
}

static int put_str(Buf *b, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "a COPY function returned something else than str");
        return -1;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL) return -1;
    return buf_put(b, s, (size_t)n);
}

static int call_into(Buf *b, PyObject *fn, const char *s, Py_ssize_t n) {
    PyObject *arg = PyUnicode_DecodeUTF8(s, n, "strict");
    if (arg == NULL) return -1;
    PyObject *out = PyObject_CallOneArg(fn, arg);
    Py_DECREF(arg);
    if (out == NULL) return -1;
    int rc = put_str(b, out);
    Py_DECREF(out);
    return rc;
}

/* One COPY field through k into b (as _keyed_copy_function in _engine.py). */
static int keyed_copy(Keyed *k, const char *s, Py_ssize_t n, Buf *b, char *scratch) {
    char out[OUT_MAX];
    Out o = {out, out};
    if (memchr(s, '\\', (size_t)n) == NULL) {
        Py_ssize_t m = transform_cached(k, s, n, &o);
        if (m >= 0) return buf_put(b, out, (size_t)m);
        return call_into(b, k->copy_fallback, s, n);
    }
    if (n == 2 && s[0] == '\\' && s[1] == 'N') return buf_put(b, s, 2);
    Py_ssize_t dn = copy_decode_simple(s, n, scratch);
    if (dn >= 0) {
        Py_ssize_t m = transform_cached(k, scratch, dn, &o);
        if (m >= 0) return k->safe ? buf_put(b, out, (size_t)m) : buf_put_encoded(b, out, (size_t)m);
    }
    return call_into(b, k->copy_fallback, s, n);
}

static PyTypeObject KeyedType;

static PyObject *result_of(Buf *b) {
    PyObject *r = PyUnicode_DecodeUTF8(b->p ? b->p : "", (Py_ssize_t)b->len, "strict");
    PyMem_Free(b->p);
    return r;
}

/* Keyed(key, label, kind, param, redraws, safe, copy_fallback, value_fallback) */
static int Keyed_init(Keyed *self, PyObject *args, PyObject *kwds) {
    Py_buffer key;
    const char *label, *kind;
    Py_ssize_t label_len;
    double param;
    int redraws, safe;
    PyObject *copy_fallback, *value_fallback;
    if (!PyArg_ParseTuple(args, "y*s#sdppOO", &key, &label, &label_len, &kind, &param, &redraws,
                          &safe, &copy_fallback, &value_fallback))
        return -1;
    if (key.len != 64) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "Keyed(): the key must be the 64-byte padded HMAC key");
        return -1;
    }
    int found = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strcmp(kind, KIND_NAMES[i]) == 0) found = i;
    if (found < 0 || lists[0].w == NULL) {
        PyBuffer_Release(&key);
        PyErr_Format(PyExc_ValueError, "Keyed(): unknown kind %s (or set_words() not called)",
                     kind);
        return -1;
    }
    uint8_t block[64];
    const uint8_t *kb = key.buf;
    for (int i = 0; i < 64; i++) block[i] = kb[i] ^ 0x36;
    memcpy(self->inner, IV256, sizeof self->inner);
    compress(self->inner, block, 1);
    for (int i = 0; i < 64; i++) block[i] = kb[i] ^ 0x5c;
    memcpy(self->outer, IV256, sizeof self->outer);
    compress(self->outer, block, 1);
    PyBuffer_Release(&key);
    PyMem_Free(self->prefix);
    self->prefix = PyMem_Malloc((size_t)label_len + 1);
    if (self->prefix == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(self->prefix, label, (size_t)label_len);
    self->prefix[label_len] = 0;
    self->prefix_len = label_len + 1;
    self->kind = found;
    self->length = (int)param;
    self->amount = param;
    self->redraws = redraws;
    self->safe = safe;
    PyMem_Free(self->cache);
    self->cache = NULL;
    self->caching = 1;
    self->lookups = self->hits = 0;
    Py_INCREF(copy_fallback);
    Py_XSETREF(self->copy_fallback, copy_fallback);
    Py_INCREF(value_fallback);
    Py_XSETREF(self->value_fallback, value_fallback);
    return 0;
}

static void Keyed_dealloc(Keyed *self) {
    PyMem_Free(self->cache);
    PyMem_Free(self->prefix);
    Py_XDECREF(self->copy_fallback);
    Py_XDECREF(self->value_fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* keyed(raw): a COPY field's replacement. */
static PyObject *Keyed_call(Keyed *self, PyObject *args, PyObject *kwds) {
    PyObject *raw;
    if (!PyArg_ParseTuple(args, "U", &raw)) return NULL;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(raw, &n);
    if (s == NULL) return NULL;
    Buf b = {NULL, 0, 0};
    char small[256];
    char *scratch = n <= (Py_ssize_t)sizeof small ? small : PyMem_Malloc((size_t)n + 1);
    if (scratch == NULL) return PyErr_NoMemory();
    int rc = keyed_copy(self, s, n, &b, scratch);
    if (scratch != small) PyMem_Free(scratch);
    if (rc < 0) {
        PyMem_Free(b.p);
        return NULL;
    }
    return result_of(&b);
}

/* keyed.value(original): a decoded value's replacement (None stays None). */
static PyObject *Keyed_value(Keyed *self, PyObject *value) {
    if (value == Py_None) Py_RETURN_NONE;
    if (!PyUnicode_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "value() takes a str or None");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(value, &n);
    if (s == NULL) return NULL;
    char out[OUT_MAX];
    Out o = {out, out};
    Py_ssize_t m = transform_cached(self, s, n, &o);
    if (m < 0) return PyObject_CallOneArg(self->value_fallback, value);
    return PyUnicode_DecodeUTF8(out, m, "strict");
}

/* ------------------------------------------------------------ COPY blocks */

/* copy_rows(lines, width, functions) -> (text, taken): the plain COPY rows
 * at the start of lines rewritten, as one str, and how many they are; the
 * first line that is not a plain row (the end marker, a backslash before a
 * tab or the newline, \r\n, a wrong number of tabs, no newline) and the
 * rest are the caller's, to read one by one. functions[i] is None for a
 * column kept as it is, a Keyed, or any callable of a COPY field. */
/* Whether line is a plain row of width fields: it ends in a newline without
 * a carriage return or a backslash before it, and has width - 1 tabs, none
 * after a backslash (the end marker, escaped tabs, continued rows and \r\n
 * are not plain). 1, 0, or -1 on error; n: its length in UTF-8 bytes. */
static int plain_row(PyObject *line, Py_ssize_t width, Py_ssize_t *n) {
    if (!PyUnicode_Check(line)) {
        PyErr_SetString(PyExc_TypeError, "the lines must be str");
        return -1;
    }
    const char *s = PyUnicode_AsUTF8AndSize(line, n);
    if (s == NULL) return -1;
    if (*n < 2 || s[*n - 1] != '\n' || s[*n - 2] == '\r' || s[*n - 2] == '\\') return 0;
    Py_ssize_t tabs = 0;
    const char *p = s, *end = s + *n;
    while ((p = memchr(p, '\t', (size_t)(end - p))) != NULL) {
        if (p > s && p[-1] == '\\') return 0;
        tabs++;
        p++;
    }
    return tabs == width - 1;
}

/* How many lines at the start are plain rows of width fields (plain_row),
 * or -1 on error; the total and the longest length of those, in UTF-8. */
static Py_ssize_t plain_rows(PyObject *lines, Py_ssize_t width, size_t *total, size_t *longest) {
    *total = *longest = 0;
    Py_ssize_t r = 0;
    for (; r < PyList_GET_SIZE(lines); r++) {
        Py_ssize_t n;
        int plain = plain_row(PyList_GET_ITEM(lines, r), width, &n);
        if (plain < 0) return -1;
        if (!plain) break;
        *total += (size_t)n;
        if ((size_t)n > *longest) *longest = (size_t)n;
    }
    return r;
}

static PyObject *fast_copy_rows(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *lines, *functions;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!nO!", &PyList_Type, &lines, &width, &PyTuple_Type, &functions))
        return NULL;
    if (width < 2 || PyTuple_GET_SIZE(functions) != width) {
        PyErr_SetString(PyExc_ValueError, "copy_rows(): width >= 2 and one function per column");
        return NULL;
    }
    /* First: the plain rows at the start; no function is called before. */
    size_t total, longest;
    Py_ssize_t count = plain_rows(lines, width, &total, &longest);
    if (count < 0) return NULL;
    Buf b = {NULL, 0, 0};
    if (buf_need(&b, total + total / 2 + 64) < 0) return NULL;
    char *scratch = PyMem_Malloc(longest + 1);
    if (scratch == NULL) {
        PyMem_Free(b.p);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t r = 0; r < count; r++) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(lines, r), &n);
        const char *end = s + n - 1; /* the newline */
        const char *field = s;
        for (Py_ssize_t col = 0; col < width; col++) {
            const char *stop = col + 1 < width ? memchr(field, '\t', (size_t)(end - field)) : end;
            Py_ssize_t len = stop - field;
            PyObject *fn = PyTuple_GET_ITEM(functions, col);
            int rc;
            if (fn == Py_None) rc = buf_put(&b, field, (size_t)len);
            else if (Py_IS_TYPE(fn, &KeyedType)) rc = keyed_copy((Keyed *)fn, field, len, &b, scratch);
            else rc = call_into(&b, fn, field, len);
            if (rc < 0 || buf_put(&b, col + 1 < width ? "\t" : "\n", 1) < 0) {
                PyMem_Free(scratch);
                PyMem_Free(b.p);
                return NULL;
            }
            field = stop + 1;
        }
    }
    PyMem_Free(scratch);
    PyObject *text = result_of(&b);
    return text == NULL ? NULL : Py_BuildValue("(Nn)", text, count);
}

/* columns(lines, width, wanted) -> (fields, taken): the fields of the
 * columns wanted (indexes, in the order given: a tuple of lists) of the
 * plain COPY rows at the start of lines, as they are (escaped, \\N for
 * NULL), and how many rows they are (as copy_rows() takes them). */
static PyObject *fast_columns(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *lines, *wanted;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!nO!", &PyList_Type, &lines, &width, &PyTuple_Type, &wanted))
        return NULL;
    Py_ssize_t k = PyTuple_GET_SIZE(wanted);
    if (width < 2 || k > 64) {
        PyErr_SetString(PyExc_ValueError, "columns(): width >= 2 and at most 64 columns");
        return NULL;
    }
    Py_ssize_t at[64];
    for (Py_ssize_t j = 0; j < k; j++) {
        at[j] = PyLong_AsSsize_t(PyTuple_GET_ITEM(wanted, j));
        if (at[j] == -1 && PyErr_Occurred()) return NULL;
        if (at[j] < 0 || at[j] >= width) {
            PyErr_SetString(PyExc_ValueError, "columns(): an index out of the row");
            return NULL;
        }
    }
    size_t total, longest;
    Py_ssize_t count = plain_rows(lines, width, &total, &longest);
    if (count < 0) return NULL;
    PyObject *result = PyTuple_New(k);
    if (result == NULL) return NULL;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *list = PyList_New(count);
        if (list == NULL) goto fail;
        PyTuple_SET_ITEM(result, j, list);
    }
    const char *starts[257], *stops[257];
    const char **start = starts, **stop = stops;
    if (width > 256) {
        start = PyMem_Malloc(sizeof(char *) * (size_t)width * 2);
        if (start == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
        stop = start + width;
    }
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *line = PyList_GET_ITEM(lines, r);
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(line, &n);
        const char *end = s + n - 1, *field = s;
        for (Py_ssize_t col = 0; col < width; col++) {
            const char *sep = col + 1 < width ? memchr(field, '\t', (size_t)(end - field)) : end;
            start[col] = field;
            stop[col] = sep;
            field = sep + 1;
        }
        int ascii = PyUnicode_IS_ASCII(line);
        for (Py_ssize_t j = 0; j < k; j++) {
            Py_ssize_t len = stop[at[j]] - start[at[j]];
            PyObject *value;
            if (ascii) {
                value = PyUnicode_New(len, 127);
                if (value != NULL) memcpy(PyUnicode_DATA(value), start[at[j]], (size_t)len);
            } else {
                value = PyUnicode_DecodeUTF8(start[at[j]], len, "strict");
            }
            if (value == NULL) {
                if (start != starts) PyMem_Free(start);
                goto fail;
            }
            PyList_SET_ITEM(PyTuple_GET_ITEM(result, j), r, value);
        }
    }
    if (start != starts) PyMem_Free(start);
    return Py_BuildValue("(Nn)", result, count);
fail:
    Py_DECREF(result);
    return NULL;
}

/* ------------------------------------------------------------ INSERT rows */

typedef struct {
    Py_ssize_t start, end;
} Lit;

/* \s of Python's re for a str, on the ASCII bytes (none other is taken). */
static inline int lit_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
static inline int lit_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The literals of the one row of plain literals at s[p..n) (UTF-8), as
 * _ROW_FAST.fullmatch and _LITERAL.finditer of _pgdump.py find them, up to
 * the end of the line; their count, or -1 when the row is anything else or
 * has a byte that is not ASCII outside its strings (Python reads those). */
static Py_ssize_t row_literals(const char *s, Py_ssize_t n, Py_ssize_t p, Lit *lits, Py_ssize_t max) {
    const unsigned char *u = (const unsigned char *)s;
    Py_ssize_t count = 0;
    if (p >= n || u[p] != '(') return -1;
    p++;
    for (;;) {
        while (p < n && lit_space(u[p])) p++;
        if (p >= n || count == max) return -1;
        Py_ssize_t start = p;
        unsigned char c = u[p];
        if (c == '\'') {
            p++;
            for (;;) {
                const char *q = memchr(s + p, '\'', (size_t)(n - p));
                if (q == NULL) return -1;
                p = q - s + 1;
                if (p < n && u[p] == '\'') {
                    p++;
                    continue;
                }
                break;
            }
        } else if (c == 'N' || c == 'n' || c == 't' || c == 'f') {
            static const char *const words[] = {"NULL", "null", "true", "false"};
            int matched = 0;
            for (int w = 0; w < 4 && !matched; w++) {
                Py_ssize_t len = (Py_ssize_t)strlen(words[w]);
                if (p + len <= n && memcmp(s + p, words[w], (size_t)len) == 0) {
                    p += len;
                    matched = 1;
                }
            }
            if (!matched) return -1;
        } else {
            if (c == '+' || c == '-') p++;
            Py_ssize_t digits = p;
            while (p < n && lit_digit(u[p])) p++;
            if (p > digits) {
                if (p < n && u[p] == '.') {
                    p++;
                    while (p < n && lit_digit(u[p])) p++;
                }
            } else {
                if (!(p + 1 < n && u[p] == '.' && lit_digit(u[p + 1]))) return -1;
                p++;
                while (p < n && lit_digit(u[p])) p++;
            }
            if (p < n && (u[p] == 'e' || u[p] == 'E')) {
                Py_ssize_t e = p + 1;
                if (e < n && (u[e] == '+' || u[e] == '-')) e++;
                if (e < n && lit_digit(u[e])) {
                    while (e < n && lit_digit(u[e])) e++;
                    p = e;
                }
            }
            if (p < n && u[p] >= 0x80) return -1; /* a Unicode digit or space next */
        }
        lits[count].start = start;
        lits[count].end = p;
        count++;
        while (p < n && lit_space(u[p])) p++;
        if (p < n && u[p] == ',') {
            p++;
            continue;
        }
        if (p < n && u[p] == ')') {
            p++;
            break;
        }
        return -1;
    }
    while (p < n && lit_space(u[p])) p++;
    if (!(p < n && u[p] == ';')) return -1;
    p++;
    while (p < n && (u[p] == ' ' || u[p] == '\t')) p++;
    if (p < n && u[p] == '\r') p++;
    if (p < n && u[p] == '\n') p++;
    return p == n ? count : -1;
}

/* _NUMBER.fullmatch of _pgdump.py for an ASCII s[0..n). */
static int is_number(const char *s, Py_ssize_t n) {
    Py_ssize_t p = 0;
    if (p < n && (s[p] == '+' || s[p] == '-')) p++;
    Py_ssize_t digits = p;
    while (p < n && lit_digit((unsigned char)s[p])) p++;
    if (p > digits) {
        if (p < n && s[p] == '.') {
            p++;
            while (p < n && lit_digit((unsigned char)s[p])) p++;
        }
    } else {
        if (!(p + 1 < n && s[p] == '.' && lit_digit((unsigned char)s[p + 1]))) return 0;
        p++;
        while (p < n && lit_digit((unsigned char)s[p])) p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < n && (s[p] == '+' || s[p] == '-')) p++;
        if (!(p < n && lit_digit((unsigned char)s[p]))) return 0;
        while (p < n && lit_digit((unsigned char)s[p])) p++;
    }
    return p == n;
}

/* The value of a plain literal (_plain_literal): into out; its length,
 * or -1 for NULL. */
static Py_ssize_t literal_value(const char *s, Py_ssize_t n, char *out) {
    if (s[0] == '\'') {
        Py_ssize_t j = 0;
        for (Py_ssize_t i = 1; i < n - 1; i++) {
            out[j++] = s[i];
            if (s[i] == '\'') i++; /* '' */
        }
        return j;
    }
    if (n == 4 && (memcmp(s, "NULL", 4) == 0 || memcmp(s, "null", 4) == 0)) return -1;
    memcpy(out, s, (size_t)n);
    return n;
}

static int put_literal(Buf *b, const char *v, Py_ssize_t n, int quoted, int *ascii_number_needed) {
    if (!quoted) {
        int ascii = 1;
        for (Py_ssize_t i = 0; i < n && ascii; i++) ascii = (unsigned char)v[i] < 0x80;
        if (!ascii) {
            *ascii_number_needed = 1; /* _NUMBER's \d is Unicode's: Python decides */
            return 0;
        }
        if (is_number(v, n)) return buf_put(b, v, (size_t)n);
    }
    if (buf_need(b, 2 * (size_t)n + 2) < 0) return -1;
    char *p = b->p + b->len;
    *p++ = '\'';
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v[i] == '\'') *p++ = '\'';
        *p++ = v[i];
    }
    *p++ = '\'';
    b->len = (size_t)(p - b->p);
    return 0;
}

/* A COPY field of a value (_copy_field of _pgdump.py). */
static PyObject *copy_field(const char *v, Py_ssize_t n) {
    if (n < 0) return PyUnicode_FromStringAndSize("\\N", 2);
    if (memchr(v, '\\', (size_t)n) == NULL) return PyUnicode_DecodeUTF8(v, n, "strict");
    Buf b = {NULL, 0, 0};
    if (buf_put_encoded(&b, v, (size_t)n) < 0) {
        PyMem_Free(b.p);
        return NULL;
    }
    return result_of(&b);
}

/* The replacement of one literal's value through fn into b; 1 when the
 * line must be left to Python, 0 done, -1 error. */
static int replace_literal(Buf *b, PyObject *fn, const char *v, Py_ssize_t n, int quoted) {
    int python = 0;
    if (Py_IS_TYPE(fn, &KeyedType) && n >= 0) {
        char out[OUT_MAX];
        Out o = {out, out};
        Py_ssize_t m = transform_cached((Keyed *)fn, v, n, &o);
        if (m >= 0) {
            int rc = put_literal(b, out, m, quoted, &python);
            return rc < 0 ? -1 : python;
        }
        fn = ((Keyed *)fn)->value_fallback;
    } else if (Py_IS_TYPE(fn, &KeyedType)) {
        return buf_put(b, "NULL", 4); /* keyed: NULL stays NULL */
    }
    PyObject *arg = n < 0 ? Py_NewRef(Py_None) : PyUnicode_DecodeUTF8(v, n, "strict");
    if (arg == NULL) return -1;
    PyObject *res = PyObject_CallOneArg(fn, arg);
    Py_DECREF(arg);
    if (res == NULL) return -1;
    int rc;
    if (res == Py_None) {
        rc = buf_put(b, "NULL", 4);
    } else if (!PyUnicode_Check(res)) {
        PyErr_SetString(PyExc_TypeError, "a value function returned something else than str");
        rc = -1;
    } else {
        Py_ssize_t m;
        const char *t = PyUnicode_AsUTF8AndSize(res, &m);
        rc = t == NULL ? -1 : put_literal(b, t, m, quoted, &python);
    }
    Py_DECREF(res);
    return rc < 0 ? -1 : python;
}

/* insert_rows(lines, prefix, width, functions, shown) -> (out, lines, rows, fields)
 * The one-line, one-row INSERTs at the start of lines that begin with prefix
 * (INSERT INTO ... VALUES , as the first such line had it) and hold width
 * plain literals, rewritten as fast_insert() of _pgdump.py does: functions
 * (None: no output; else one per column: None kept, a Keyed, or a value
 * function) replace the literals; shown are columns whose original values
 * come back as COPY fields (for block functions). lines: how many lines were
 * taken (a string may go on over several), rows: how many INSERTs; the
 * first line not taken (another statement, a string over several
 * lines, a comment, anything unusual) and the rest are the caller's. */
static PyObject *fast_insert_rows(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *lines, *prefix_obj, *functions, *shown;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!UnOO!", &PyList_Type, &lines, &prefix_obj, &width, &functions,
                          &PyTuple_Type, &shown))
        return NULL;
    if (functions != Py_None && (!PyTuple_Check(functions) || PyTuple_GET_SIZE(functions) != width)) {
        PyErr_SetString(PyExc_ValueError, "insert_rows(): one function per column, or None");
        return NULL;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(shown), plen;
    if (width < 1 || width > 4096 || k > 64) {
        PyErr_SetString(PyExc_ValueError, "insert_rows(): 1 to 4096 columns, at most 64 shown");
        return NULL;
    }
    const char *prefix = PyUnicode_AsUTF8AndSize(prefix_obj, &plen);
    if (prefix == NULL) return NULL;
    Py_ssize_t at[64];
    for (Py_ssize_t j = 0; j < k; j++) {
        at[j] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shown, j));
        if ((at[j] == -1 && PyErr_Occurred())) return NULL;
        if (at[j] < 0 || at[j] >= width) {
            PyErr_SetString(PyExc_ValueError, "insert_rows(): a shown column out of the row");
            return NULL;
        }
    }
    Lit *lits = PyMem_Malloc(sizeof(Lit) * (size_t)width);
    PyObject *fields = PyTuple_New(k), *result = NULL;
    Buf b = {NULL, 0, 0};
    char *scratch = NULL;
    size_t scratch_cap = 0;
    Py_ssize_t done = 0, rows = 0;
    Buf joined = {NULL, 0, 0};
    if (lits == NULL || fields == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *list = PyList_New(0);
        if (list == NULL) goto out;
        PyTuple_SET_ITEM(fields, j, list);
    }
    Py_ssize_t count = PyList_GET_SIZE(lines);
    while (done < count) {
        /* One statement: a line, and the next ones while its quotes do not
         * pair up (at most FAST_LINES more), as insert() of _pgdump.py reads. */
        PyObject *line = PyList_GET_ITEM(lines, done);
        if (!PyUnicode_Check(line)) break;
        Py_ssize_t n, used = 1;
        const char *s = PyUnicode_AsUTF8AndSize(line, &n);
        if (s == NULL) goto out;
        Py_ssize_t quotes = 0;
        for (const char *q = s; (q = memchr(q, '\'', (size_t)(s + n - q))) != NULL; q++) quotes++;
        if (quotes % 2) {
            joined.len = 0;
            if (buf_put(&joined, s, (size_t)n) < 0) goto out;
            while (quotes % 2 && used <= FAST_LINES && done + used < count) {
                PyObject *more = PyList_GET_ITEM(lines, done + used);
                Py_ssize_t m;
                const char *t = PyUnicode_Check(more) ? PyUnicode_AsUTF8AndSize(more, &m) : NULL;
                if (t == NULL) {
                    if (PyErr_Occurred()) goto out;
                    break;
                }
                if (buf_put(&joined, t, (size_t)m) < 0) goto out;
                for (const char *q = t; (q = memchr(q, '\'', (size_t)(t + m - q))) != NULL; q++)
                    quotes++;
                used++;
            }
            if (quotes % 2) break; /* the block or the read-ahead ends first: Python's */
            s = joined.p;
            n = (Py_ssize_t)joined.len;
        }
        if (n < plen || memcmp(s, prefix, (size_t)plen) != 0) break;
        if (memchr(s, '$', (size_t)n) != NULL) break;
        int comment = 0;
        for (Py_ssize_t i = 0; i + 1 < n && !comment; i++)
            comment = (s[i] == '-' && s[i + 1] == '-') || (s[i] == '/' && s[i + 1] == '*');
        if (comment) break;
        if (row_literals(s, n, plen, lits, width) != width) break;
        if ((size_t)n + 1 > scratch_cap) {
            char *grown = PyMem_Realloc(scratch, (size_t)n + 1);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto out;
            }
            scratch = grown;
            scratch_cap = (size_t)n + 1;
        }
        size_t mark = b.len;
        int python = 0;
        if (functions != Py_None) {
            Py_ssize_t pos = 0;
            for (Py_ssize_t c = 0; c < width && !python; c++) {
                PyObject *fn = PyTuple_GET_ITEM(functions, c);
                if (fn == Py_None) continue;
                const char *lit = s + lits[c].start;
                Py_ssize_t ln = lits[c].end - lits[c].start;
                Py_ssize_t vn = literal_value(lit, ln, scratch);
                if (buf_put(&b, s + pos, (size_t)(lits[c].start - pos)) < 0) goto out;
                int rc = replace_literal(&b, fn, scratch, vn, lit[0] == '\'');
                if (rc < 0) goto out;
                python = rc;
                pos = lits[c].end;
            }
            if (python) {
                b.len = mark;
                break;
            }
            if (buf_put(&b, s + pos, (size_t)(n - pos)) < 0) goto out;
        }
        for (Py_ssize_t j = 0; j < k; j++) {
            const char *lit = s + lits[at[j]].start;
            Py_ssize_t vn = literal_value(lit, lits[at[j]].end - lits[at[j]].start, scratch);
            PyObject *field = copy_field(scratch, vn);
            if (field == NULL || PyList_Append(PyTuple_GET_ITEM(fields, j), field) < 0) {
                Py_XDECREF(field);
                goto out;
            }
            Py_DECREF(field);
        }
        done += used;
        rows++;
    }
    {
        PyObject *text = functions == Py_None ? Py_NewRef(Py_None) : result_of(&b);
        b.p = NULL;
        if (text == NULL) goto out;
        result = Py_BuildValue("(NnnO)", text, done, rows, fields);
    }
out:
    PyMem_Free(joined.p);
    PyMem_Free(b.p);
    PyMem_Free(lits);
    PyMem_Free(scratch);
    Py_XDECREF(fields);
    return result;
}

/* ------------------------------------------------------------------ module */

static PyObject *fast_sha256(PyObject *Py_UNUSED(module), PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    Sha s;
    uint8_t d[32];
    sha_start(&s, IV256, 0);
    sha_update(&s, data.buf, (size_t)data.len);
    sha_final(&s, d);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)d, 32);
}

static PyObject *Keyed_digest(Keyed *self, PyObject *value) {
    if (!PyUnicode_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "digest() takes a str");
        return NULL;
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(value, &n);
    if (s == NULL) return NULL;
    uint8_t d[32];
    keyed_digest(self, s, n, d);
    return PyBytes_FromStringAndSize((const char *)d, 32);
}

static PyMethodDef Keyed_methods[] = {
    {"value", (PyCFunction)Keyed_value, METH_O, "The replacement of a decoded value."},
    {"digest", (PyCFunction)Keyed_digest, METH_O, "HMAC-SHA256(key, label + NUL + value)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KeyedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pytest_ephemeral.data.sanitize._fastcopy.Keyed",
    .tp_basicsize = sizeof(Keyed),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A keyed transformation: COPY field -> replacement (call), value() for INSERTs.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Keyed_init,
    .tp_dealloc = (destructor)Keyed_dealloc,
    .tp_call = (ternaryfunc)Keyed_call,
    .tp_methods = Keyed_methods,
};

static PyMethodDef module_methods[] = {
    {"set_words", fast_set_words, METH_O, "The lists the fakes are drawn from (once)."},
    {"copy_rows", fast_copy_rows, METH_VARARGS, "The plain COPY rows at the start of a block rewritten."},
    {"insert_rows", fast_insert_rows, METH_VARARGS, "One-line INSERTs of one table rewritten."},
    {"columns", fast_columns, METH_VARARGS, "Some columns' fields of the plain COPY rows at the start of a block."},
    {"sha256", fast_sha256, METH_O, "SHA-256 (for the tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastcopy_module = {
    PyModuleDef_HEAD_INIT, "_fastcopy",
    "The sanitizer's hot path, compiled (see _engine.py and _pgdump.py).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastcopy(void) {
#ifdef HAVE_SHANI
    const char *portable = getenv("EPH_SHA_PORTABLE");
    __builtin_cpu_init();
    unsigned a, b, c, d;
    if (!(portable && portable[0] == '1') && __builtin_cpu_supports("sse4.1") &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29))) /* CPUID.7.0:EBX.SHA */
        compress = compress_shani;
#endif
    if (PyType_Ready(&KeyedType) < 0) return NULL;
    PyObject *m = PyModule_Create(&fastcopy_module);
    if (m == NULL) return NULL;
    Py_INCREF(&KeyedType);
    if (PyModule_AddObject(m, "Keyed", (PyObject *)&KeyedType) < 0) {
        Py_DECREF(&KeyedType);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *kinds = PyTuple_New(K_COUNT);
    if (kinds == NULL) return NULL;
    for (int i = 0; i < K_COUNT; i++) PyTuple_SET_ITEM(kinds, i, PyUnicode_FromString(KIND_NAMES[i]));
    if (PyModule_AddObject(m, "KINDS", kinds) < 0) return NULL;
    if (PyModule_AddStringConstant(m, "SHA", compress == compress_portable ? "portable" : "x86-sha") < 0)
        return NULL;
    return m;
}
