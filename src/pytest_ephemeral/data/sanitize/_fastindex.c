/* The leak check's index of originals, compiled: keyed hashes, their table,
 * and the search inside ASCII texts (see _leaks.py, OriginalIndex).
 *
 * Optional: when this module is not built, _leaks.py does the same in Python.
 * The two give the same findings (tests/data/test_fastindex.py compares them
 * on generated texts); they do not give the same hashes, so one index is
 * always built and searched by one of them.
 *
 * Hashes: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit PRF
 * made for short inputs, written here from the paper; the key is derived
 * from the index's key by the caller. Domains: whole values are hashed as
 * they are, keys for the search in text with a leading NUL, first tokens
 * (the filter) with a leading 0x01.
 *
 * The search reproduces _search() of _leaks.py for texts that are all ASCII
 * (the caller keeps the Python code for the others): tokens are e-mail
 * addresses or runs of letters and digits (the regular expression _TOKEN of
 * _text.py), digit runs are those of _DIGIT_RUN, both emulated exactly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_copyfield.h"

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

#define MAX_SEQUENCE 12
#define MIN_DIGITS 6
#define FILTER_BITS (1u << 24)

/* ------------------------------------------------------------- SipHash-2-4 */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
    do {                                                                       \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);              \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                 \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                 \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);              \
    } while (0)

static inline uint64_t load64(const unsigned char *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
           (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
           (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* SipHash-2-4 of prefix (0 or 1 byte, -1 for none) followed by data. */
static uint64_t siphash(uint64_t k0, uint64_t k1, int prefix, const char *data, size_t len) {
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    const unsigned char *in = (const unsigned char *)data;
    size_t total = len + (prefix >= 0 ? 1 : 0);
    unsigned char block[8];
    size_t fill = 0, i = 0;
    if (prefix >= 0) block[fill++] = (unsigned char)prefix;
    /* Fill the first partial block, then whole blocks straight from data. */
    while (fill < 8 && i < len) block[fill++] = in[i++];
    if (fill == 8) {
        uint64_t m = load64(block);
        v3 ^= m; SIPROUND; SIPROUND; v0 ^= m;
        fill = 0;
        while (len - i >= 8) {
            m = load64(in + i);
            v3 ^= m; SIPROUND; SIPROUND; v0 ^= m;
            i += 8;
        }
        while (i < len) block[fill++] = in[i++];
    }
    uint64_t b = (uint64_t)(total & 0xff) << 56;
    for (size_t j = 0; j < fill; j++) b |= (uint64_t)block[j] << (8 * j);
    v3 ^= b; SIPROUND; SIPROUND; v0 ^= b;
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* -------------------------------------------------------------- the index */

typedef struct {
    PyObject_HEAD
    uint64_t k0, k1;
    uint64_t *keys;       /* open addressing, 0 = empty */
    uint16_t *tags;
    size_t mask, count;
    uint8_t *filter;      /* first tokens of word keys */
    int words, digits, emails;
    unsigned lengths;     /* bit n: a word key of n tokens exists */
    /* Adds of a block held back (collect_rows): their slots are fetched from
     * memory as they come, and written together (see table_flush). */
    uint64_t *pending;
    uint16_t *pending_tags;
    uint8_t *pending_whole;
    size_t pending_count, pending_cap;
    int deferring;
} Index;

static int table_alloc(Index *self, size_t capacity) {
    self->keys = PyMem_Calloc(capacity, sizeof(uint64_t));
    self->tags = PyMem_Calloc(capacity, sizeof(uint16_t));
    if (self->keys == NULL || self->tags == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->mask = capacity - 1;
    return 0;
}

static int table_grow(Index *self) {
    uint64_t *old_keys = self->keys;
    uint16_t *old_tags = self->tags;
    size_t old_capacity = self->mask + 1;
    size_t capacity = old_capacity * (old_capacity < (1u << 20) ? 4 : 2);
    if (table_alloc(self, capacity) < 0) {
        PyMem_Free(self->keys);
        PyMem_Free(self->tags);
        self->keys = old_keys;
        self->tags = old_tags;
        self->mask = old_capacity - 1;
        return -1;
    }
    for (size_t i = 0; i < old_capacity; i++) {
        uint64_t d = old_keys[i];
        if (d) {
            size_t slot = d & self->mask;
            while (self->keys[slot]) slot = (slot + 1) & self->mask;
            self->keys[slot] = d;
            self->tags[slot] = old_tags[i];
        }
    }
    PyMem_Free(old_keys);
    PyMem_Free(old_tags);
    return 0;
}

/* 1 when added, 0 when there already, -1 on error. */
static int table_add(Index *self, uint64_t d, uint16_t tag) {
    if (d == 0) d = 1;
    size_t slot = d & self->mask;
    for (;;) {
        uint64_t found = self->keys[slot];
        if (found == 0) {
            self->keys[slot] = d;
            self->tags[slot] = tag;
            self->count++;
            if (self->count * 3 > (self->mask + 1) * 2 && table_grow(self) < 0) return -1;
            return 1;
        }
        if (found == d) {
            /* Seen before, maybe from another column: the first column of the
             * input keeps it, whatever order the values came in (blocks of
             * rows by column, or row by row). */
            if (tag < self->tags[slot]) self->tags[slot] = tag;
            return 0;
        }
        slot = (slot + 1) & self->mask;
    }
}

/* table_add(), or, while deferring, held back to be added by table_flush()
 * (whole: a whole value, whose newness table_flush() counts); 1 when added,
 * 0 when there already or held back, -1 on error. */
static int table_put(Index *self, uint64_t d, uint16_t tag, int whole) {
    if (!self->deferring) return table_add(self, d, tag);
    if (self->pending_count == self->pending_cap) {
        size_t cap = self->pending_cap ? self->pending_cap * 2 : 4096;
        uint64_t *p = PyMem_Realloc(self->pending, cap * sizeof(uint64_t));
        if (p != NULL) self->pending = p;
        uint16_t *t = PyMem_Realloc(self->pending_tags, cap * sizeof(uint16_t));
        if (t != NULL) self->pending_tags = t;
        uint8_t *w = PyMem_Realloc(self->pending_whole, cap);
        if (w != NULL) self->pending_whole = w;
        if (p == NULL || t == NULL || w == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->pending_cap = cap;
    }
    if (d == 0) d = 1;
    PREFETCH(&self->keys[d & self->mask]);
    self->pending[self->pending_count] = d;
    self->pending_tags[self->pending_count] = tag;
    self->pending_whole[self->pending_count] = (uint8_t)whole;
    self->pending_count++;
    return 0;
}

/* The adds held back, in the order they came; the number of new whole
 * values among them, or -1 on error. */
static long table_flush(Index *self) {
    long added = 0;
    self->deferring = 0;
    for (size_t i = 0; i < self->pending_count; i++) {
        int r = table_add(self, self->pending[i], self->pending_tags[i]);
        if (r < 0) {
            self->pending_count = 0;
            return -1;
        }
        if (self->pending_whole[i]) added += r;
    }
    self->pending_count = 0;
    return added;
}

static int table_get(const Index *self, uint64_t d) {
    if (d == 0) d = 1;
    size_t slot = d & self->mask;
    for (;;) {
        uint64_t found = self->keys[slot];
        if (found == 0) return -1;
        if (found == d) return self->tags[slot];
        slot = (slot + 1) & self->mask;
    }
}

static inline uint64_t key_hash(const Index *self, const char *s, size_t n) {
    return siphash(self->k0, self->k1, 0, s, n);
}

static inline void filter_mark(Index *self, const char *s, size_t n) {
    uint64_t h = siphash(self->k0, self->k1, 1, s, n) & (FILTER_BITS - 1);
    self->filter[h >> 3] |= (uint8_t)(1u << (h & 7));
}

static inline int filter_has(const Index *self, const char *s, size_t n) {
    uint64_t h = siphash(self->k0, self->k1, 1, s, n) & (FILTER_BITS - 1);
    return (self->filter[h >> 3] >> (h & 7)) & 1;
}

static int Index_init(Index *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"key", NULL};
    Py_buffer key;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*", kwlist, &key)) return -1;
    if (key.len != 16) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "the key is 16 bytes");
        return -1;
    }
    self->k0 = load64((const unsigned char *)key.buf);
    self->k1 = load64((const unsigned char *)key.buf + 8);
    PyBuffer_Release(&key);
    PyMem_Free(self->keys);
    PyMem_Free(self->tags);
    PyMem_Free(self->filter);
    self->keys = NULL;
    self->tags = NULL;
    self->count = 0;
    self->words = self->digits = self->emails = 0;
    self->lengths = 0;
    self->filter = PyMem_Calloc(FILTER_BITS / 8, 1);
    if (self->filter == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return table_alloc(self, 1u << 14);
}

static void Index_dealloc(Index *self) {
    PyMem_Free(self->pending);
    PyMem_Free(self->pending_tags);
    PyMem_Free(self->pending_whole);
    PyMem_Free(self->keys);
    PyMem_Free(self->tags);
    PyMem_Free(self->filter);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static const char *utf8_of(PyObject *text, Py_ssize_t *n) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "a str is needed");
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(text, n);
}

/* value_tag(value) -> int: the tag of a whole original, or -1. */
static PyObject *Index_value_tag(Index *self, PyObject *value) {
    Py_ssize_t n;
    const char *s = utf8_of(value, &n);
    if (s == NULL) return NULL;
    return PyLong_FromLong(table_get(self, siphash(self->k0, self->k1, -1, s, (size_t)n)));
}

static int add_key_bytes(Index *self, uint16_t tag, const char *s, Py_ssize_t n);

/* add_key(tag, key): remember a key for the search in text (see _text.py). */
static PyObject *Index_add_key(Index *self, PyObject *args) {
    int tag;
    PyObject *key;
    if (!PyArg_ParseTuple(args, "iU", &tag, &key)) return NULL;
    Py_ssize_t n;
    const char *s = utf8_of(key, &n);
    if (s == NULL) return NULL;
    if (n < 2) {
        PyErr_SetString(PyExc_ValueError, "a key is a kind and a text");
        return NULL;
    }
    if (add_key_bytes(self, (uint16_t)tag, s, n) < 0) return NULL;
    Py_RETURN_NONE;
}

/* The key s[0..n) (kind and text), with the flags and the first-token filter. */
static int add_key_bytes(Index *self, uint16_t tag, const char *s, Py_ssize_t n) {
    if (table_put(self, key_hash(self, s, (size_t)n), tag, 0) < 0) return -1;
    char kind = s[0];
    if (kind == '#') {
        self->digits = 1;
    } else if (kind == '@') {
        self->emails = 1;
    } else {
        self->words = 1;
        const char *first = s + 1, *end = memchr(first, ' ', (size_t)(n - 1));
        size_t first_len = end == NULL ? (size_t)(n - 1) : (size_t)(end - first);
        filter_mark(self, first, first_len);
        unsigned length = 1;
        for (Py_ssize_t i = 1; i < n; i++) length += s[i] == ' ';
        if (length <= MAX_SEQUENCE) self->lengths |= 1u << length;
    }
    return 0;
}

/* key_tag(key) -> int: the tag of a key, or -1. */
static PyObject *Index_key_tag(Index *self, PyObject *key) {
    Py_ssize_t n;
    const char *s = utf8_of(key, &n);
    if (s == NULL) return NULL;
    return PyLong_FromLong(table_get(self, key_hash(self, s, (size_t)n)));
}

/* first(token) -> bool: whether a word key may start with this (lower-cased) token. */
static PyObject *Index_first(Index *self, PyObject *token) {
    Py_ssize_t n;
    const char *s = utf8_of(token, &n);
    if (s == NULL) return NULL;
    return PyBool_FromLong(filter_has(self, s, (size_t)n));
}

/* --------------------------------------------------- the search in ASCII */

static inline int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static inline int is_word(unsigned char c) { return is_alnum(c) || c == '_'; }
static inline int is_local(unsigned char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
static inline int is_domain(unsigned char c) { return is_alnum(c) || c == '-'; }

/* Where the e-mail address whose '@' is at s[at] ends (the regular
 * expression's match: the last label starting with two letters or more
 * ends at its last leading letter), or -1. */
static Py_ssize_t email_end(const char *s, Py_ssize_t n, Py_ssize_t at) {
    Py_ssize_t q = at + 1, start = q;
    while (q < n && is_domain((unsigned char)s[q])) q++;
    if (q == start) return -1;
    Py_ssize_t best = -1;
    while (q + 1 < n && s[q] == '.' && is_domain((unsigned char)s[q + 1])) {
        Py_ssize_t label = q + 1, t = label;
        while (t < n && is_alpha((unsigned char)s[t])) t++;
        q = label;
        while (q < n && is_domain((unsigned char)s[q])) q++;
        if (t - label >= 2) best = t;
    }
    return best;
}

typedef struct {
    Py_ssize_t start, end;
} Span;

typedef struct {
    char *data;
    size_t len, cap;
} Buffer;

static int buf_reserve(Buffer *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buffer *b, const char *s, size_t n) {
    if (buf_reserve(b, b->len + n) < 0) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static int buf_put_lower(Buffer *b, const char *s, size_t n) {
    if (buf_reserve(b, b->len + n) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        b->data[b->len + i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    b->len += n;
    return 0;
}

/* Add tag to the set *found, made on the first tag (most values have
 * none, and a set per value costs more than the search); -1 on error. */
static int add_tag(PyObject **found, int tag) {
    if (*found == NULL && (*found = PySet_New(NULL)) == NULL) return -1;
    PyObject *t = PyLong_FromLong(tag);
    if (t == NULL) return -1;
    int r = PySet_Add(*found, t);
    Py_DECREF(t);
    return r;
}

/* Add the tag of the key in b (if any) to *found; -1 on error. */
static int probe(const Index *self, const Buffer *b, PyObject **found) {
    int tag = table_get(self, key_hash(self, b->data, b->len));
    return tag < 0 ? 0 : add_tag(found, tag);
}

/* The tokens of s (as _TOKEN.finditer gives them). Returns the count, or -1. */
static Py_ssize_t tokenize(const char *s, Py_ssize_t n, Span **out, unsigned char **emails,
                           Span *stack, unsigned char *stack_emails, Py_ssize_t stack_size) {
    Span *spans = stack;
    unsigned char *is_email = stack_emails;
    Py_ssize_t count = 0, cap = stack_size;
    Py_ssize_t no_email_before = 0; /* a run of local chars already known not to be an address */
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (!is_local(c)) {
            i++;
            continue;
        }
        Py_ssize_t end = -1;
        if (i >= no_email_before) {
            Py_ssize_t j = i;
            while (j < n && is_local((unsigned char)s[j])) j++;
            if (j < n && s[j] == '@') end = email_end(s, n, j);
            if (end < 0) no_email_before = j;
        }
        int email = end >= 0;
        if (!email) {
            if (!is_alnum(c)) {
                i++;
                continue;
            }
            end = i;
            while (end < n && is_alnum((unsigned char)s[end])) end++;
        }
        if (count == cap) {
            Py_ssize_t grown = cap * 2;
            Span *more = PyMem_Malloc((size_t)grown * sizeof(Span));
            unsigned char *more_emails = PyMem_Malloc((size_t)grown);
            if (more == NULL || more_emails == NULL) {
                PyMem_Free(more);
                PyMem_Free(more_emails);
                if (spans != stack) {
                    PyMem_Free(spans);
                    PyMem_Free(is_email);
                }
                PyErr_NoMemory();
                return -1;
            }
            memcpy(more, spans, (size_t)count * sizeof(Span));
            memcpy(more_emails, is_email, (size_t)count);
            if (spans != stack) {
                PyMem_Free(spans);
                PyMem_Free(is_email);
            }
            spans = more;
            is_email = more_emails;
            cap = grown;
        }
        spans[count].start = i;
        spans[count].end = end;
        is_email[count] = (unsigned char)email;
        count++;
        i = end;
    }
    *out = spans;
    *emails = is_email;
    return count;
}

/* Room for need spans in *spans (the caller's stack array at first, then
 * memory of ours, twice as large each time); -1 on error. */
static int spans_reserve(Span **spans, const Span *stack, Py_ssize_t *cap, Py_ssize_t count,
                         Py_ssize_t need) {
    if (need <= *cap) return 0;
    Py_ssize_t grown = *cap * 2 > need ? *cap * 2 : need;
    Span *more = PyMem_Malloc((size_t)grown * sizeof(Span));
    if (more == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(more, *spans, (size_t)count * sizeof(Span));
    if (*spans != stack) PyMem_Free(*spans);
    *spans = more;
    *cap = grown;
    return 0;
}

/* The digit runs of one match of _DIGIT_RUN (digits groups[0..count)):
 * probe every join of up to 8 consecutive groups of MIN_DIGITS digits or more. */
static int probe_runs(const Index *self, const char *s, Span *groups, Py_ssize_t count,
                      Buffer *b, PyObject **found) {
    for (Py_ssize_t start = 0; start < count; start++) {
        b->len = 0;
        if (buf_put(b, "#", 1) < 0) return -1;
        Py_ssize_t last = count < start + 8 ? count : start + 8;
        for (Py_ssize_t end = start; end < last; end++) {
            if (buf_put(b, s + groups[end].start, (size_t)(groups[end].end - groups[end].start)) < 0)
                return -1;
            if (b->len - 1 >= MIN_DIGITS && probe(self, b, found) < 0) return -1;
        }
        if (count == 1) break;
    }
    return 0;
}

/* Emulates _DIGIT_RUN = (?<![\w@.])\+?\(?\d+(?:(?:[ ./-]|\) ?| ?\()\d+)*(?![\w@])
 * over s, with digit_runs() of _text.py on each match. */
static int search_digits(const Index *self, const char *s, Py_ssize_t n, Buffer *b,
                         PyObject **found) {
    Span groups_stack[64];
    Span *groups = groups_stack;
    Py_ssize_t cap = 64;
    int result = 0;
    Py_ssize_t p = 0;
    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        if (!(c == '+' || c == '(' || is_digit(c))) {
            p++;
            continue;
        }
        if (p > 0) {
            unsigned char before = (unsigned char)s[p - 1];
            if (is_word(before) || before == '@' || before == '.') {
                p++;
                continue;
            }
        }
        Py_ssize_t q = p;
        if (q < n && s[q] == '+') q++;
        if (q < n && s[q] == '(') q++;
        if (!(q < n && is_digit((unsigned char)s[q]))) {
            p++;
            continue;
        }
        Py_ssize_t count = 0;
        for (;;) {
            Py_ssize_t d = q;
            while (q < n && is_digit((unsigned char)s[q])) q++;
            if (spans_reserve(&groups, groups_stack, &cap, count, count + 1) < 0) {
                result = -1;
                goto done;
            }
            groups[count].start = d;
            groups[count].end = q;
            count++;
            /* the next group: a separator, then digits */
            Py_ssize_t next = -1;
            if (q < n) {
                unsigned char sep = (unsigned char)s[q];
                if ((sep == ' ' || sep == '.' || sep == '/' || sep == '-') && q + 1 < n &&
                    is_digit((unsigned char)s[q + 1]))
                    next = q + 1;
                else if (sep == ')' && q + 2 < n && s[q + 1] == ' ' &&
                         is_digit((unsigned char)s[q + 2]))
                    next = q + 2;
                else if (sep == ')' && q + 1 < n && is_digit((unsigned char)s[q + 1]))
                    next = q + 1;
                else if (sep == ' ' && q + 2 < n && s[q + 1] == '(' &&
                         is_digit((unsigned char)s[q + 2]))
                    next = q + 2;
                else if (sep == '(' && q + 1 < n && is_digit((unsigned char)s[q + 1]))
                    next = q + 1;
            }
            if (next < 0) break;
            q = next;
        }
        /* (?![\w@]) at the end, else without the last group (after which
         * comes a separator, which passes); no match with no group left. */
        Py_ssize_t end = groups[count - 1].end;
        if (end < n && (is_word((unsigned char)s[end]) || s[end] == '@')) {
            count--;
            if (count == 0) {
                p++;
                continue;
            }
            end = groups[count - 1].end;
        }
        /* A first group starting with the international prefix 00: also without it. */
        Span split[2];
        Py_ssize_t total = count;
        if (groups[0].end - groups[0].start > 2 && s[groups[0].start] == '0' &&
            s[groups[0].start + 1] == '0') {
            if (spans_reserve(&groups, groups_stack, &cap, count, count + 1) < 0) {
                result = -1;
                goto done;
            }
            split[0].start = groups[0].start;
            split[0].end = groups[0].start + 2;
            split[1].start = groups[0].start + 2;
            split[1].end = groups[0].end;
            memmove(groups + 2, groups + 1, (size_t)(count - 1) * sizeof(Span));
            groups[0] = split[0];
            groups[1] = split[1];
            total = count + 1;
        }
        if (probe_runs(self, s, groups, total, b, found) < 0) {
            result = -1;
            goto done;
        }
        p = end;
    }
done:
    if (groups != groups_stack) PyMem_Free(groups);
    return result;
}

static inline int sentence_end(unsigned char c) {
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == '\n' || c == '\r' ||
           c == '\t';
}

/* The tags of the keys inside the ASCII s[0..n) into *found (a set made
 * on the first one); -1 on error. */
static int search_into(const Index *self, const char *s, Py_ssize_t n, PyObject **found) {
    Buffer b = {NULL, 0, 0};
    Span stack[256];
    unsigned char stack_emails[256];
    Span *spans = stack;
    unsigned char *emails = stack_emails;
    int failed = 0;
    int has_digit = 0, has_letter = 0, has_at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        has_digit |= is_digit(c);
        has_letter |= is_alpha(c);
        has_at |= c == '@';
    }
    int need_words = self->words && has_letter;
    int need_emails = self->emails && has_at;
    Py_ssize_t count = 0;
    if (need_words || need_emails) {
        count = tokenize(s, n, &spans, &emails, stack, stack_emails, 256);
        if (count < 0) return -1;
    }
    if (need_emails) {
        for (Py_ssize_t i = 0; i < count && !failed; i++) {
            if (!emails[i]) continue;
            b.len = 0;
            failed = buf_put(&b, "@", 1) < 0 ||
                     buf_put_lower(&b, s + spans[i].start, (size_t)(spans[i].end - spans[i].start)) < 0 ||
                     probe(self, &b, found) < 0;
        }
    }
    if (!failed && self->digits && has_digit) failed = search_digits(self, s, n, &b, found) < 0;
    if (!failed && need_words) {
        int single = (self->lengths >> 1) & 1;
        for (Py_ssize_t i = 0; i < count && !failed; i++) {
            const char *tok = s + spans[i].start;
            size_t len = (size_t)(spans[i].end - spans[i].start);
            b.len = 0;
            if (buf_put_lower(&b, tok, len) < 0) {
                failed = 1;
                break;
            }
            if (!filter_has(self, b.data, b.len)) continue;
            if (single && !emails[i]) {
                /* "-low", then "=low" for a capital, then "^low" mid-sentence */
                b.len = 0;
                if (buf_put(&b, "-", 1) < 0 || buf_put_lower(&b, tok, len) < 0) {
                    failed = 1;
                    break;
                }
                int tag = table_get(self, key_hash(self, b.data, b.len));
                if (tag < 0 && tok[0] >= 'A' && tok[0] <= 'Z') {
                    b.data[0] = '=';
                    tag = table_get(self, key_hash(self, b.data, b.len));
                    if (tag < 0) {
                        int starts = i == 0;
                        for (Py_ssize_t k = spans[i > 0 ? i - 1 : 0].end; !starts && k < spans[i].start; k++)
                            starts = sentence_end((unsigned char)s[k]);
                        if (!starts) {
                            b.data[0] = '^';
                            tag = table_get(self, key_hash(self, b.data, b.len));
                        }
                    }
                }
                if (tag >= 0 && add_tag(found, tag) < 0) failed = 1;
            }
            for (unsigned m = 2; m <= MAX_SEQUENCE && !failed; m++) {
                if (!((self->lengths >> m) & 1)) continue;
                if (i + (Py_ssize_t)m > count) break;
                b.len = 0;
                failed = buf_put(&b, "~", 1) < 0;
                for (unsigned k = 0; k < m && !failed; k++) {
                    if (k) failed = buf_put(&b, " ", 1) < 0;
                    const Span *sp = &spans[i + k];
                    if (!failed)
                        failed = buf_put_lower(&b, s + sp->start, (size_t)(sp->end - sp->start)) < 0;
                }
                if (!failed) failed = probe(self, &b, found) < 0;
            }
        }
    }
    if (spans != stack) {
        PyMem_Free(spans);
        PyMem_Free(emails);
    }
    PyMem_Free(b.data);
    return failed ? -1 : 0;
}

/* search(text, found) -> bool: add to the set found the tags of the keys
 * inside text (an ASCII str; False, and nothing done, for any other). */
static PyObject *Index_search(Index *self, PyObject *args) {
    PyObject *text, *found;
    if (!PyArg_ParseTuple(args, "UO!", &text, &PySet_Type, &found)) return NULL;
    if (!PyUnicode_IS_ASCII(text)) Py_RETURN_FALSE;
    PyObject *into = found;
    if (search_into(self, (const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text), &into) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* ------------------------------------- the keys of an original (ASCII) */

/* The lower-cased common English words (_text.COMMON_WORDS), set once. */
static PyObject *common_words = NULL;

/* Originals longer than this are left to the Python code (it searches for
 * them by their first MAX_SEQUENCE * 64 characters' tokens). */
#define KEYS_MAX_CHARS (MAX_SEQUENCE * 64)
#define MAX_KEYS 5

static inline int is_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static inline int is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

/* '^' for a common word, '=' for another (the word is lower-cased in w). */
static int word_kind(const char *w, size_t n) {
    PyObject *word = PyUnicode_FromStringAndSize(w, (Py_ssize_t)n);
    if (word == NULL) return -1;
    int common = common_words == NULL ? 0 : PySet_Contains(common_words, word);
    Py_DECREF(word);
    return common < 0 ? -1 : (common ? '^' : '=');
}

/* A one-word key into b: "-low", or "=low"/"^low" when it starts with a capital. */
static int word_key(const char *w, size_t n, Buffer *b) {
    b->len = 0;
    if (buf_put(b, "-", 1) < 0 || buf_put_lower(b, w, n) < 0) return -1;
    if (is_upper((unsigned char)w[0])) {
        int kind = word_kind(b->data + 1, n);
        if (kind < 0) return -1;
        b->data[0] = (char)kind;
    }
    return 1;
}

/* original_key() of _text.py for an ASCII s[0..n), n <= KEYS_MAX_CHARS:
 * 1 and the key in b, 0 for none, -1 on error. */
static int original_key_ascii(const char *s, Py_ssize_t n, Buffer *b) {
    Py_ssize_t i;
    int alpha = n > 0, has_at = 0, has_space = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        alpha &= is_alpha(c);
        has_at |= c == '@';
        has_space |= c == ' ';
    }
    if (alpha) return n < 4 ? 0 : word_key(s, (size_t)n, b);
    if (has_at && !has_space) { /* one e-mail address, the whole value */
        Py_ssize_t j = 0;
        while (j < n && is_local((unsigned char)s[j])) j++;
        if (j > 0 && j < n && s[j] == '@' && email_end(s, n, j) == n) {
            b->len = 0;
            if (buf_put(b, "@", 1) < 0 || buf_put_lower(b, s, (size_t)n) < 0) return -1;
            return 1;
        }
    }
    Span stack[64];
    unsigned char stack_emails[64];
    Span *spans;
    unsigned char *emails;
    Py_ssize_t count = tokenize(s, n, &spans, &emails, stack, stack_emails, 64);
    if (count < 0) return -1;
    int result = 0;
    if (count == 0) goto done;
    int digits_only = 1;
    for (i = 0; i < count && digits_only; i++) {
        if (emails[i]) digits_only = 0;
        for (Py_ssize_t k = spans[i].start; k < spans[i].end && digits_only; k++)
            digits_only = is_digit((unsigned char)s[k]);
    }
    if (digits_only) { /* a phone number or an id: its digits, if nothing else is in it */
        Py_ssize_t at = 0;
        for (i = 0; i <= count; i++) {
            Py_ssize_t until = i < count ? spans[i].start : n;
            for (; at < until; at++)
                if (!strchr(" +-./()\t", s[at]) || s[at] == '\0') goto done;
            if (i < count) at = spans[i].end;
        }
        b->len = 0;
        if (buf_put(b, "#", 1) < 0) goto fail;
        for (i = 0; i < count; i++)
            if (buf_put(b, s + spans[i].start, (size_t)(spans[i].end - spans[i].start)) < 0)
                goto fail;
        result = b->len - 1 >= MIN_DIGITS;
        goto done;
    }
    if (count == 1) {
        const char *t = s + spans[0].start;
        size_t len = (size_t)(spans[0].end - spans[0].start);
        if (emails[0]) {
            b->len = 0;
            if (buf_put(b, "@", 1) < 0 || buf_put_lower(b, t, len) < 0) goto fail;
            result = 1;
        } else if (len >= 4) { /* (all digits was handled above) */
            result = word_key(t, len, b);
        }
        goto done;
    }
    b->len = 0;
    if (buf_put(b, "~", 1) < 0) goto fail;
    for (i = 0; i < count && i < MAX_SEQUENCE; i++) {
        if ((i && buf_put(b, " ", 1) < 0) ||
            buf_put_lower(b, s + spans[i].start, (size_t)(spans[i].end - spans[i].start)) < 0)
            goto fail;
    }
    result = b->len - 1 >= 4;
    goto done;
fail:
    result = -1;
done:
    if (spans != stack) {
        PyMem_Free(spans);
        PyMem_Free(emails);
    }
    return result;
}

/* The next match of _PARTS = \s*(?:\r?\n|, |; )\s* in s[from..n): its
 * start and end, or 0 when there is none. */
static int next_part_separator(const char *s, Py_ssize_t n, Py_ssize_t from, Py_ssize_t *start,
                               Py_ssize_t *end) {
    for (Py_ssize_t p = from; p < n; p++) {
        Py_ssize_t w = p;
        while (w < n && is_space((unsigned char)s[w])) w++;
        for (Py_ssize_t q = w; q >= p; q--) { /* \s* greedy, then backing off */
            Py_ssize_t len = 0;
            if (q + 1 < n && s[q] == '\r' && s[q + 1] == '\n')
                len = 2;
            else if (q < n && s[q] == '\n')
                len = 1;
            else if (q + 1 < n && (s[q] == ',' || s[q] == ';') && s[q + 1] == ' ')
                len = 2;
            if (len) {
                Py_ssize_t e = q + len;
                while (e < n && is_space((unsigned char)s[e])) e++;
                *start = p;
                *end = e;
                return 1;
            }
        }
    }
    return 0;
}

/* original_keys() of _text.py for an ASCII s[0..n), n <= KEYS_MAX_CHARS:
 * the number of keys written to keys[0..MAX_KEYS), or -1. */
static int original_keys_ascii(const char *s, Py_ssize_t n, Buffer keys[MAX_KEYS]) {
    int count = 0;
    int r = original_key_ascii(s, n, &keys[0]);
    if (r < 0) return -1;
    count += r;
    Span parts[5];
    Py_ssize_t nparts = 0, at = 0, a, e;
    while (nparts < 4 && next_part_separator(s, n, at, &a, &e)) { /* maxsplit=4 */
        parts[nparts].start = at;
        parts[nparts].end = a;
        nparts++;
        at = e;
    }
    if (nparts == 0) return count; /* the only part is the value itself */
    parts[nparts].start = at;
    parts[nparts].end = n;
    nparts++;
    for (Py_ssize_t i = 0; i < nparts && i < 4; i++) {
        Py_ssize_t len = parts[i].end - parts[i].start;
        if (len == 0) continue;
        Buffer *b = &keys[count];
        r = original_key_ascii(s + parts[i].start, len, b);
        if (r < 0) return -1;
        if (r == 0 || !(b->data[0] == '~' || b->data[0] == '#' || b->data[0] == '@')) continue;
        int again = 0;
        for (int k = 0; k < count && !again; k++)
            again = keys[k].len == b->len && memcmp(keys[k].data, b->data, b->len) == 0;
        if (!again) count++;
    }
    return count;
}

static void free_keys(Buffer keys[MAX_KEYS]) {
    for (int i = 0; i < MAX_KEYS; i++) PyMem_Free(keys[i].data);
}

/* keys_of(value) -> list[str] | None: original_keys(value), or None when
 * the value is left to the Python code (not ASCII, or long). */
static PyObject *Index_keys_of(PyObject *Py_UNUSED(module), PyObject *value) {
    if (!PyUnicode_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "a str is needed");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(value) || PyUnicode_GET_LENGTH(value) > KEYS_MAX_CHARS) Py_RETURN_NONE;
    Buffer keys[MAX_KEYS] = {{NULL, 0, 0}};
    int count = original_keys_ascii((const char *)PyUnicode_DATA(value),
                                    PyUnicode_GET_LENGTH(value), keys);
    PyObject *result = count < 0 ? NULL : PyList_New(count);
    for (int i = 0; result != NULL && i < count; i++) {
        PyObject *key = PyUnicode_FromStringAndSize(keys[i].data, (Py_ssize_t)keys[i].len);
        if (key == NULL) Py_CLEAR(result);
        else PyList_SET_ITEM(result, i, key);
    }
    free_keys(keys);
    return result;
}

/* Whether the leak check wants the original value (see _leaks._wanted):
 * 4 characters or more, also without the blanks around, not a fixed: value.
 * 1, 0, or -1 on error. */
static int wanted(PyObject *value, PyObject *skip) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(value);
    if (n < 4) return 0;
    if (PyUnicode_IS_ASCII(value)) {
        const unsigned char *s = PyUnicode_DATA(value);
        Py_ssize_t a = 0, e = n;
        while (a < e && is_space(s[a])) a++;
        while (e > a && is_space(s[e - 1])) e--;
        if (e - a < 4) return 0;
    } else {
        PyObject *stripped = PyObject_CallMethod(value, "strip", NULL);
        if (stripped == NULL) return -1;
        Py_ssize_t len = PyUnicode_GET_LENGTH(stripped);
        Py_DECREF(stripped);
        if (len < 4) return 0;
    }
    int fixed = PySet_GET_SIZE(skip) ? PySet_Contains(skip, value) : 0;
    return fixed < 0 ? -1 : !fixed;
}

/* Add one wanted original: the whole value and, with in_text, its keys;
 * values whose keys are left to Python are appended to later. 1 when the
 * whole value was new, 0 when not, -1 on error. */
static int add_original_bytes(Index *self, uint16_t tag, const char *s, Py_ssize_t n, int ascii,
                              int in_text, PyObject *later);

static int add_original(Index *self, uint16_t tag, PyObject *value, int in_text,
                        PyObject *later) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(value, &n);
    if (s == NULL) return -1;
    return add_original_bytes(self, tag, s, n, PyUnicode_IS_ASCII(value), in_text, later);
}

/* add_original() of the UTF-8 s[0..n) (ascii: all of it is). */
static int add_original_bytes(Index *self, uint16_t tag, const char *s, Py_ssize_t n, int ascii,
                              int in_text, PyObject *later) {
    int added = table_put(self, siphash(self->k0, self->k1, -1, s, (size_t)n), tag, 1);
    if (added < 0 || !in_text) return added;
    if (!ascii || n > KEYS_MAX_CHARS) {
        PyObject *value = PyUnicode_DecodeUTF8(s, n, "strict");
        int rc = value == NULL ? -1 : PyList_Append(later, value);
        Py_XDECREF(value);
        return rc < 0 ? -1 : added;
    }
    Buffer keys[MAX_KEYS] = {{NULL, 0, 0}};
    int count = original_keys_ascii(s, n, keys);
    for (int i = 0; i < count; i++) {
        if (add_key_bytes(self, tag, keys[i].data, (Py_ssize_t)keys[i].len) < 0) {
            count = -1;
            break;
        }
    }
    free_keys(keys);
    return count < 0 ? -1 : added;
}

/* add(tag, value, in_text, later) -> int: add_original() for one value
 * (already wanted); the number of new whole values (0 or 1). */
static PyObject *Index_add(Index *self, PyObject *args) {
    int tag, in_text;
    PyObject *value, *later;
    if (!PyArg_ParseTuple(args, "iUpO!", &tag, &value, &in_text, &PyList_Type, &later)) return NULL;
    int added = add_original(self, (uint16_t)tag, value, in_text, later);
    return added < 0 ? NULL : PyLong_FromLong(added);
}

/* A COPY field with a backslash, decoded: in C when it is ASCII with simple
 * escapes only (\b \f \n \r \t \v, or a backslash before any character but
 * a digit 0-7 or x), else by decode() (copy_decode of _pgdump.py). */
static PyObject *copy_decoded(PyObject *raw, PyObject *decode) {
    if (PyUnicode_IS_ASCII(raw)) {
        const char *s = (const char *)PyUnicode_DATA(raw);
        Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
        char small[512];
        char *out = n <= (Py_ssize_t)sizeof small ? small : PyMem_Malloc((size_t)n);
        if (out == NULL) return PyErr_NoMemory();
        Py_ssize_t j = copy_decode_simple(s, n, out);
        PyObject *value = NULL;
        if (j >= 0) {
            value = PyUnicode_New(j, 127);
            if (value != NULL) memcpy(PyUnicode_DATA(value), out, (size_t)j);
        }
        if (out != small) PyMem_Free(out);
        if (j >= 0) return value;
    }
    return PyObject_CallOneArg(decode, raw);
}

/* collect(tag, raws, skip, in_text, decode, later) -> int: the COPY fields
 * of a block of rows (escaped, \N for NULL; decode() for those with a
 * backslash) as originals of one column; the number of new whole values. */
static PyObject *Index_collect(Index *self, PyObject *args) {
    int tag, in_text;
    PyObject *raws, *skip, *decode, *later;
    if (!PyArg_ParseTuple(args, "iO!O!pOO!", &tag, &PyList_Type, &raws, &PyFrozenSet_Type, &skip,
                          &in_text, &decode, &PyList_Type, &later))
        return NULL;
    long total = 0;
    self->deferring = 1; /* see table_put */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(raws); i++) {
        PyObject *raw = PyList_GET_ITEM(raws, i);
        if (!PyUnicode_Check(raw)) {
            PyErr_SetString(PyExc_TypeError, "the fields are str");
            goto fail;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
        if (n < 4) continue; /* \N, and values too short to be wanted */
        PyObject *value;
        if (PyUnicode_FindChar(raw, '\\', 0, n, 1) >= 0) {
            value = copy_decoded(raw, decode);
            if (value == NULL) goto fail;
        } else {
            value = Py_NewRef(raw);
        }
        int ok = wanted(value, skip);
        int added = ok > 0 ? add_original(self, (uint16_t)tag, value, in_text, later) : ok;
        Py_DECREF(value);
        if (added < 0) goto fail;
        total += added;
    }
    long flushed = table_flush(self);
    return flushed < 0 ? NULL : PyLong_FromLong(total + flushed);
fail:
    table_flush(self); /* (the error is the one raised) */
    return NULL;
}

/* set_common_words(words): the lower-cased common English words. */
static PyObject *fast_set_common_words(PyObject *Py_UNUSED(module), PyObject *words) {
    if (!PyFrozenSet_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "a frozenset is needed");
        return NULL;
    }
    Py_XSETREF(common_words, Py_NewRef(words));
    Py_RETURN_NONE;
}

/* ------------------------------------------ a block of values searched */

/* Whether s[0..n) is one e-mail address (_EMAIL_RE.fullmatch, ASCII). */
static int is_email(const char *s, Py_ssize_t n) {
    Py_ssize_t j = 0;
    while (j < n && is_local((unsigned char)s[j])) j++;
    return j > 0 && j < n && s[j] == '@' && email_end(s, n, j) == n;
}

static Py_ssize_t digits_from(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i;
    while (j < n && is_digit((unsigned char)s[j])) j++;
    return j - i;
}

/* s[i..i+k) are k digits. */
static int digits_exactly(const char *s, Py_ssize_t n, Py_ssize_t i, Py_ssize_t k) {
    return i + k <= n && digits_from(s, i + k, i) == k;
}

/* hh:mm[:ss[.f+]] at s[i]; the end of it, or -1. */
static Py_ssize_t clock_at(const char *s, Py_ssize_t n, Py_ssize_t i) {
    if (!digits_exactly(s, n, i, 2) || i + 2 >= n || s[i + 2] != ':' || !digits_exactly(s, n, i + 3, 2))
        return -1;
    i += 5;
    if (i < n && s[i] == ':' && digits_exactly(s, n, i + 1, 2)) {
        i += 3;
        if (i < n && s[i] == '.' && digits_from(s, n, i + 1) > 0) i += 1 + digits_from(s, n, i + 1);
    }
    return i;
}

/* PLAIN.fullmatch of _text.py for an ASCII s[0..n): a number, a date or
 * timestamp, or a time of day. */
static int plain_ascii(const char *s, Py_ssize_t n) {
    /* [+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)? */
    Py_ssize_t i = (n > 0 && (s[0] == '+' || s[0] == '-')) ? 1 : 0, d = digits_from(s, n, i);
    if (d > 0) {
        i += d;
        if (i < n && s[i] == '.' && digits_from(s, n, i + 1) > 0) i += 1 + digits_from(s, n, i + 1);
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            Py_ssize_t j = i + 1;
            if (j < n && (s[j] == '+' || s[j] == '-')) j++;
            if (digits_from(s, n, j) > 0) i = j + digits_from(s, n, j);
        }
        if (i == n) return 1;
    }
    /* \d{4}-\d{2}-\d{2}(?:[ T]clock(?:Z|[+-]\d{2}(?::?\d{2})?)?)? */
    if (digits_exactly(s, n, 0, 4) && n >= 10 && s[4] == '-' && digits_exactly(s, n, 5, 2) &&
        s[7] == '-' && digits_exactly(s, n, 8, 2)) {
        if (n == 10) return 1;
        if (s[10] != ' ' && s[10] != 'T') return 0;
        i = clock_at(s, n, 11);
        if (i < 0) return 0;
        if (i == n) return 1;
        if (s[i] == 'Z') return i + 1 == n;
        if ((s[i] != '+' && s[i] != '-') || !digits_exactly(s, n, i + 1, 2)) return 0;
        i += 3;
        if (i == n) return 1;
        if (s[i] == ':') i++;
        return digits_exactly(s, n, i, 2) && i + 2 == n;
    }
    /* \d{2}:\d{2}(?::\d{2}(?:\.\d+)?)? */
    return clock_at(s, n, 0) == n;
}

/* plain(text) -> bool: plain_ascii() of an ASCII str (for the tests). */
static PyObject *fast_plain(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_TypeError, "plain() takes an ASCII str");
        return NULL;
    }
    return PyBool_FromLong(plain_ascii((const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text)));
}

/* The tags of the originals in one ASCII value, as _search() and
 * source_of() of _leaks.py find them (whole, then inside), into *found (a
 * set made on the first). -1 on error. */
/* wanted() of an ASCII s[0..n). */
static int wanted_ascii(const char *s, Py_ssize_t n, PyObject *skip) {
    if (n < 4) return 0;
    Py_ssize_t a = 0, e = n;
    while (a < e && is_space((unsigned char)s[a])) a++;
    while (e > a && is_space((unsigned char)s[e - 1])) e--;
    if (e - a < 4) return 0;
    if (!PySet_GET_SIZE(skip)) return 1;
    PyObject *value = PyUnicode_FromStringAndSize(s, n);
    if (value == NULL) return -1;
    int fixed = PySet_Contains(skip, value);
    Py_DECREF(value);
    return fixed < 0 ? -1 : !fixed;
}

static int look_bytes(Index *self, const char *s, Py_ssize_t n, uint64_t whole, PyObject *skip,
                      int in_text, PyObject **found);

static int look_ascii(Index *self, PyObject *value, uint64_t whole, PyObject *skip, int in_text,
                      PyObject **found) {
    return look_bytes(self, (const char *)PyUnicode_DATA(value), PyUnicode_GET_LENGTH(value), whole,
                      skip, in_text, found);
}

/* look_ascii() of the ASCII s[0..n). */
static int look_bytes(Index *self, const char *s, Py_ssize_t n, uint64_t whole, PyObject *skip,
                      int in_text, PyObject **found) {
    int ok = wanted_ascii(s, n, skip);
    if (ok < 0) return -1;
    if (ok) {
        int tag = table_get(self, whole); /* whole: the value's siphash */
        if (tag >= 0) return add_tag(found, tag);
    }
    if (!in_text) return 0;
    Buffer b = {NULL, 0, 0};
    int r = 0;
    if (plain_ascii(s, n)) { /* a number, date or time: only a run of digits can be an original */
        Py_ssize_t a = 0;
        while (a < n && s[a] == '+') a++;
        int digits = n - a >= MIN_DIGITS;
        for (Py_ssize_t i = a; i < n && digits; i++) digits = is_digit((unsigned char)s[i]);
        if (self->digits && digits)
            r = buf_put(&b, "#", 1) < 0 || buf_put(&b, s + a, (size_t)(n - a)) < 0 ||
                        probe(self, &b, found) < 0
                    ? -1
                    : 0;
    } else if (memchr(s, '@', (size_t)n) != NULL && memchr(s, ' ', (size_t)n) == NULL &&
               is_email(s, n)) { /* one e-mail address (a faked one, mostly) */
        if (self->emails)
            r = buf_put(&b, "@", 1) < 0 || buf_put_lower(&b, s, (size_t)n) < 0 ||
                        probe(self, &b, found) < 0
                    ? -1
                    : 0;
    } else {
        r = search_into(self, s, n, found);
    }
    PyMem_Free(b.data);
    return r;
}

/* Whether detect() of _text.py may find personal data in the ASCII
 * s[0..n): false only when none of its patterns can match. Every detector
 * needs an '@' (e-mail), a ':' (IPv6), six digits or more (phone numbers,
 * national ids, card numbers), four digits and three dots (IPv4), or two
 * capitals and two digits in a row (the start of an IBAN); and a value that
 * is all a number, date or time (PLAIN) is only looked at for a card number
 * or a phone number written +digits, as detect() does. */
static int may_detect(const char *s, Py_ssize_t n) {
    if (plain_ascii(s, n)) {
        /* detect() of a number, date or time: only a card number (13 to 19
         * digits) or a phone number written as + and digits (an id is not) */
        Py_ssize_t a = 0;
        while (a < n && s[a] == '+') a++;
        int all = a < n;
        for (Py_ssize_t i = a; i < n && all; i++) all = is_digit((unsigned char)s[i]);
        return all && ((n - a >= 13 && n - a <= 19) || s[0] == '+');
    }
    int digits = 0, dots = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c)) {
            digits++;
            if (i >= 3 && is_digit((unsigned char)s[i - 1]) && is_upper((unsigned char)s[i - 2]) &&
                is_upper((unsigned char)s[i - 3]))
                return 1;
        } else if (c == '@' || c == ':') {
            return 1;
        } else if (c == '.') {
            dots++;
        }
    }
    return digits >= 6 || (digits >= 4 && dots >= 3);
}

static PyObject *fast_may_detect(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_TypeError, "an ASCII str is needed");
        return NULL;
    }
    return PyBool_FromLong(may_detect((const char *)PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text)));
}

/* look(raws, skip, decode, in_text, detecting, clean, limit)
 *   -> (found, rest, left, clean_hits)
 * The COPY fields of one column for a block of rows (escaped, \N for NULL),
 * each distinct value once with the number of times it came:
 *   found: (tags, times) of the values holding originals;
 *   rest: (value, times) of the values without, when detecting, that
 *         detect() may find personal data in (see may_detect());
 *   left: (value, times) of the values left to the Python code (not ASCII,
 *         or longer than limit);
 *   clean_hits: how many fields were values of the set clean (skipped). */
static PyObject *Index_look(Index *self, PyObject *args) {
    PyObject *raws, *skip, *decode, *clean;
    int in_text, detecting;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!O!OppOn", &PyList_Type, &raws, &PyFrozenSet_Type, &skip,
                          &decode, &in_text, &detecting, &clean, &limit))
        return NULL;
    if (clean != Py_None && !PySet_Check(clean)) {
        PyErr_SetString(PyExc_TypeError, "clean is a set or None");
        return NULL;
    }
    PyObject *times = PyDict_New(), *found = PyList_New(0), *rest = PyList_New(0),
             *left = PyList_New(0), *result = NULL;
    long clean_hits = 0;
    if (times == NULL || found == NULL || rest == NULL || left == NULL) goto out;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(raws); i++) {
        PyObject *raw = PyList_GET_ITEM(raws, i);
        if (!PyUnicode_Check(raw)) {
            PyErr_SetString(PyExc_TypeError, "the fields are str");
            goto out;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(raw);
        if (n == 2 && PyUnicode_READ_CHAR(raw, 0) == '\\' && PyUnicode_READ_CHAR(raw, 1) == 'N')
            continue;
        PyObject *value;
        if (PyUnicode_FindChar(raw, '\\', 0, n, 1) >= 0) {
            value = copy_decoded(raw, decode);
            if (value == NULL) goto out;
        } else {
            value = Py_NewRef(raw);
        }
        PyObject *count = PyDict_GetItemWithError(times, value);
        long before = count == NULL ? 0 : PyLong_AsLong(count);
        PyObject *now = (count == NULL && PyErr_Occurred()) ? NULL : PyLong_FromLong(before + 1);
        int r = now == NULL ? -1 : PyDict_SetItem(times, value, now);
        Py_XDECREF(now);
        Py_DECREF(value);
        if (r < 0) goto out;
    }
    /* The whole values' slots of the table, fetched from memory for all the
     * block's values first: a lookup in a large table is a cache miss, and
     * misses issued together overlap instead of coming one after another. */
    Py_ssize_t pos = 0, distinct = PyDict_GET_SIZE(times), next = 0;
    uint64_t *wholes = PyMem_Malloc(sizeof(uint64_t) * (size_t)(distinct ? distinct : 1));
    if (wholes == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    PyObject *value, *count;
    while (PyDict_Next(times, &pos, &value, &count)) {
        uint64_t d = 0;
        if (PyUnicode_IS_ASCII(value) && PyUnicode_GET_LENGTH(value) <= limit) {
            d = siphash(self->k0, self->k1, -1, (const char *)PyUnicode_DATA(value),
                        (size_t)PyUnicode_GET_LENGTH(value));
            PREFETCH(&self->keys[(d ? d : 1) & self->mask]);
        }
        wholes[next++] = d;
    }
    pos = 0;
    next = 0;
    while (PyDict_Next(times, &pos, &value, &count)) {
        uint64_t whole = wholes[next++];
        if (clean != Py_None) {
            int seen = PySet_Contains(clean, value);
            if (seen < 0) goto out;
            if (seen) {
                clean_hits += PyLong_AsLong(count);
                continue;
            }
        }
        PyObject *pair, *target;
        if (!PyUnicode_IS_ASCII(value) || PyUnicode_GET_LENGTH(value) > limit) {
            pair = PyTuple_Pack(2, value, count);
            target = left;
        } else {
            PyObject *tags = NULL;
            if (look_ascii(self, value, whole, skip, in_text, &tags) < 0) {
                Py_XDECREF(tags);
                PyMem_Free(wholes);
                goto out;
            }
            if (tags != NULL) {
                pair = PyTuple_Pack(2, tags, count);
                target = found;
            } else if (detecting && may_detect((const char *)PyUnicode_DATA(value),
                                               PyUnicode_GET_LENGTH(value))) {
                pair = PyTuple_Pack(2, value, count);
                target = rest;
            } else {
                continue;
            }
            Py_XDECREF(tags);
        }
        int r = pair == NULL ? -1 : PyList_Append(target, pair);
        Py_XDECREF(pair);
        if (r < 0) {
            PyMem_Free(wholes);
            goto out;
        }
    }
    PyMem_Free(wholes);
    result = Py_BuildValue("(OOOl)", found, rest, left, clean_hits);
out:
    Py_XDECREF(times);
    Py_XDECREF(found);
    Py_XDECREF(rest);
    Py_XDECREF(left);
    return result;
}

/* -------------------------------- a block of COPY rows searched in place */

/* The field at index of a plain COPY row (a line of width fields, checked
 * by the caller), in its UTF-8 text; NULL with an exception for a line that
 * is not such a row. */
static const char *field_of(PyObject *line, Py_ssize_t width, Py_ssize_t index, Py_ssize_t *len) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(line, &n);
    if (s == NULL) return NULL;
    const char *end = s + n - 1, *f = n > 0 ? s : NULL; /* end: the newline */
    for (Py_ssize_t c = 0; c < index && f != NULL; c++) {
        f = memchr(f, '\t', (size_t)(end - f));
        if (f != NULL) f++;
    }
    const char *stop = f == NULL ? NULL : index + 1 < width ? memchr(f, '\t', (size_t)(end - f)) : end;
    if (stop == NULL) {
        PyErr_SetString(PyExc_ValueError, "a line is not a plain COPY row of this width");
        return NULL;
    }
    *len = stop - f;
    return f;
}

typedef struct {
    uint64_t d;
    long count;
    const char *v;  /* the value in its line, or NULL: in the arena at off */
    Py_ssize_t off, n;
} Distinct;


/* Count value in the dict times (value -> int), as look() does. */
static int count_into(PyObject *times, PyObject *value) {
    PyObject *count = PyDict_GetItemWithError(times, value);
    if (count == NULL && PyErr_Occurred()) return -1;
    PyObject *now = PyLong_FromLong((count == NULL ? 0 : PyLong_AsLong(count)) + 1);
    int rc = now == NULL ? -1 : PyDict_SetItem(times, value, now);
    Py_XDECREF(now);
    return rc;
}

/* The slot of the digit key look_bytes() will probe for a value that is a
 * run of digits (an id, a phone number without separators), fetched now. */
static inline void prefetch_digits(const Index *self, const char *s, Py_ssize_t n, int in_text) {
    if (!in_text || !self->digits || n > 64) return;
    char key[66];
    Py_ssize_t a = 0;
    while (a < n && s[a] == '+') a++;
    if (n - a < MIN_DIGITS) return;
    key[0] = '#';
    for (Py_ssize_t i = a; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return;
        key[1 + i - a] = s[i];
    }
    uint64_t h = key_hash(self, key, (size_t)(n - a + 1));
    PREFETCH(&self->keys[(h ? h : 1) & self->mask]);
}

/* look_rows(lines, width, index, skip, decode, in_text, detecting, clean, limit)
 *   -> (found, rest, left, clean_hits): what look() gives for the fields of
 * column index of a block of plain COPY rows (the caller checked them, as
 * _fastcopy.columns() does), read in place: a str is made only for what
 * goes back to Python (rest: found nothing, but the detection may; left:
 * not ASCII, longer than limit, or with numeric escapes). clean (a set, or
 * None): values Python's detection found nothing in before, counted in
 * clean_hits instead of going to rest. */
static PyObject *Index_look_rows(Index *self, PyObject *args) {
    PyObject *lines, *skip, *decode, *clean;
    Py_ssize_t width, index, limit;
    int in_text, detecting;
    if (!PyArg_ParseTuple(args, "O!nnO!OppOn", &PyList_Type, &lines, &width, &index,
                          &PyFrozenSet_Type, &skip, &decode, &in_text, &detecting, &clean, &limit))
        return NULL;
    if (index < 0 || index >= width || (clean != Py_None && !PySet_Check(clean))) {
        PyErr_SetString(PyExc_ValueError, "look_rows(): an index in the row, clean a set or None");
        return NULL;
    }
    Py_ssize_t rows = PyList_GET_SIZE(lines), distinct = 0;
    size_t cap = 16;
    while (cap < (size_t)rows * 2) cap *= 2;
    Distinct *map = PyMem_Calloc(cap, sizeof(Distinct));
    Py_ssize_t *order = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(rows ? rows : 1));
    Buffer arena = {NULL, 0, 0};
    PyObject *times = PyDict_New(), *found = PyList_New(0), *rest = PyList_New(0),
             *left = PyList_New(0), *keep = PyList_New(0), *result = NULL;
    long clean_hits = 0;
    if (map == NULL || order == NULL) {
        PyErr_NoMemory();
        goto out;
    }
    if (times == NULL || found == NULL || rest == NULL || left == NULL || keep == NULL) goto out;
    for (Py_ssize_t r = 0; r < rows; r++) {
        PyObject *line = PyList_GET_ITEM(lines, r);
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "look_rows(): the lines are str");
            goto out;
        }
        Py_ssize_t fn;
        const char *f = field_of(line, width, index, &fn);
        if (f == NULL) goto out;
        Py_ssize_t vn = fn, off = -1;
        if (fn == 2 && f[0] == '\\' && f[1] == 'N') continue;
        int python = 0;
        if (!PyUnicode_IS_ASCII(line))
            for (Py_ssize_t i = 0; i < fn && !python; i++) python = (unsigned char)f[i] >= 0x80;
        if (!python && memchr(f, '\\', (size_t)fn) != NULL) {
            if (buf_reserve(&arena, arena.len + (size_t)fn) < 0) goto out;
            vn = copy_decode_simple(f, fn, arena.data + arena.len);
            if (vn < 0) {
                python = 1;
            } else {
                off = (Py_ssize_t)arena.len;
                arena.len += (size_t)vn;
            }
        }
        const char *bytes = off >= 0 ? arena.data + off : f;
        if (python || vn > limit) {
            PyObject *raw = PyUnicode_DecodeUTF8(f, fn, "strict"), *value = NULL;
            if (raw != NULL)
                value = memchr(f, '\\', (size_t)fn) ? PyObject_CallOneArg(decode, raw) : Py_NewRef(raw);
            Py_XDECREF(raw);
            if (value == NULL) goto out;
            if (!PyUnicode_IS_ASCII(value) || PyUnicode_GET_LENGTH(value) > limit) {
                int rc = count_into(times, value);
                Py_DECREF(value);
                if (rc < 0) goto out;
                continue;
            }
            /* decoded by Python to ASCII (numeric escapes): looked here, as look() does */
            int rc = PyList_Append(keep, value);
            Py_DECREF(value);
            if (rc < 0) goto out;
            bytes = (const char *)PyUnicode_DATA(value); /* kept alive by keep */
            vn = PyUnicode_GET_LENGTH(value);
            off = -1;
            f = bytes;
        }
        uint64_t d = siphash(self->k0, self->k1, -1, bytes, (size_t)vn);
        if (d == 0) d = 1;
        size_t slot = (size_t)d & (cap - 1);
        for (;;) {
            Distinct *e = &map[slot];
            if (e->count == 0) {
                e->d = d;
                e->count = 1;
                e->v = off >= 0 ? NULL : f;
                e->off = off;
                e->n = vn;
                order[distinct++] = (Py_ssize_t)slot;
                PREFETCH(&self->keys[d & self->mask]);
                prefetch_digits(self, bytes, vn, in_text);
                break;
            }
            if (e->d == d) {
                e->count++;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
    }
    for (Py_ssize_t i = 0; i < distinct; i++) {
        Distinct *e = &map[order[i]];
        const char *v = e->v != NULL ? e->v : arena.data + e->off;
        PyObject *tags = NULL, *pair = NULL, *target = NULL;
        if (look_bytes(self, v, e->n, e->d, skip, in_text, &tags) < 0) {
            Py_XDECREF(tags);
            goto out;
        }
        if (tags != NULL) {
            PyObject *times_obj = PyLong_FromLong(e->count);
            pair = times_obj == NULL ? NULL : PyTuple_Pack(2, tags, times_obj);
            Py_XDECREF(times_obj);
            Py_DECREF(tags);
            target = found;
        } else if (detecting && may_detect(v, e->n)) {
            PyObject *value = PyUnicode_FromStringAndSize(v, e->n);
            if (value == NULL) goto out;
            int seen = clean == Py_None ? 0 : PySet_Contains(clean, value);
            if (seen != 0) {
                Py_DECREF(value);
                if (seen < 0) goto out;
                clean_hits += e->count;
                continue;
            }
            PyObject *times_obj = PyLong_FromLong(e->count);
            pair = times_obj == NULL ? NULL : PyTuple_Pack(2, value, times_obj);
            Py_XDECREF(times_obj);
            Py_DECREF(value);
            target = rest;
        } else {
            continue;
        }
        int rc = pair == NULL ? -1 : PyList_Append(target, pair);
        Py_XDECREF(pair);
        if (rc < 0) goto out;
    }
    Py_ssize_t pos = 0;
    PyObject *value, *count;
    while (PyDict_Next(times, &pos, &value, &count)) {
        PyObject *pair = PyTuple_Pack(2, value, count);
        int rc = pair == NULL ? -1 : PyList_Append(left, pair);
        Py_XDECREF(pair);
        if (rc < 0) goto out;
    }
    result = Py_BuildValue("(OOOl)", found, rest, left, clean_hits);
out:
    PyMem_Free(map);
    PyMem_Free(order);
    PyMem_Free(arena.data);
    Py_XDECREF(times);
    Py_XDECREF(found);
    Py_XDECREF(rest);
    Py_XDECREF(left);
    Py_XDECREF(keep);
    return result;
}

/* collect_rows(tag, lines, width, index, skip, in_text, decode, later) -> int:
 * collect() of the fields of column index of a block of plain COPY rows
 * (checked by the caller), read in place. */
static PyObject *Index_collect_rows(Index *self, PyObject *args) {
    int tag, in_text;
    PyObject *lines, *skip, *decode, *later;
    Py_ssize_t width, index;
    if (!PyArg_ParseTuple(args, "iO!nnO!pOO!", &tag, &PyList_Type, &lines, &width, &index,
                          &PyFrozenSet_Type, &skip, &in_text, &decode, &PyList_Type, &later))
        return NULL;
    if (index < 0 || index >= width) {
        PyErr_SetString(PyExc_ValueError, "collect_rows(): an index in the row");
        return NULL;
    }
    Buffer scratch = {NULL, 0, 0};
    long total = 0;
    self->deferring = 1;
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(lines); r++) {
        PyObject *line = PyList_GET_ITEM(lines, r);
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "collect_rows(): the lines are str");
            goto fail;
        }
        Py_ssize_t fn;
        const char *f = field_of(line, width, index, &fn);
        if (f == NULL) goto fail;
        if (fn < 4) continue; /* \N, and values too short to be wanted */
        const char *v = f;
        Py_ssize_t vn = fn;
        if (memchr(f, '\\', (size_t)fn) != NULL) {
            if (buf_reserve(&scratch, (size_t)fn) < 0) goto fail;
            vn = copy_decode_simple(f, fn, scratch.data);
            v = scratch.data;
            if (vn < 0) { /* numeric escapes: decoded by Python, added as collect() does */
                PyObject *raw = PyUnicode_DecodeUTF8(f, fn, "strict");
                PyObject *value = raw == NULL ? NULL : PyObject_CallOneArg(decode, raw);
                Py_XDECREF(raw);
                if (value == NULL) goto fail;
                int ok = wanted(value, skip);
                int added = ok > 0 ? add_original(self, (uint16_t)tag, value, in_text, later) : ok;
                Py_DECREF(value);
                if (added < 0) goto fail;
                total += added;
                continue;
            }
        }
        int ascii = 1;
        for (Py_ssize_t i = 0; i < vn && ascii; i++) ascii = (unsigned char)v[i] < 0x80;
        int ok;
        if (ascii) {
            ok = wanted_ascii(v, vn, skip);
        } else {
            PyObject *value = PyUnicode_DecodeUTF8(v, vn, "strict");
            ok = value == NULL ? -1 : wanted(value, skip);
            Py_XDECREF(value);
        }
        int added = ok > 0 ? add_original_bytes(self, (uint16_t)tag, v, vn, ascii, in_text, later) : ok;
        if (added < 0) goto fail;
        total += added;
    }
    PyMem_Free(scratch.data);
    long flushed = table_flush(self);
    return flushed < 0 ? NULL : PyLong_FromLong(total + flushed);
fail:
    PyMem_Free(scratch.data);
    table_flush(self); /* (the error is the one raised) */
    return NULL;
}

/* ------------------------------------------ one row of INSERT literals */

/* insert_literals(line, pos) -> list[tuple[int, int]] | None: where the
 * literals of the one row of plain literals at line[pos:] are, as
 * _ROW_FAST.fullmatch and _LITERAL.finditer of _pgdump.py find them
 * (None when the row does not match): ( lit , lit ... ) ; and the end of the
 * line, a lit being 'text' (with ''), NULL, null, true, false or a number.
 * \s and \d are Unicode's, as in the regular expressions. */
static PyObject *fast_insert_literals(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *line;
    Py_ssize_t p;
    if (!PyArg_ParseTuple(args, "Un", &line, &p)) return NULL;
    int kind = PyUnicode_KIND(line);
    const void *data = PyUnicode_DATA(line);
    Py_ssize_t n = PyUnicode_GET_LENGTH(line);
#define CH(i) PyUnicode_READ(kind, data, (i))
#define SPACE(i) Py_UNICODE_ISSPACE(CH(i))
#define DIGIT(i) Py_UNICODE_ISDECIMAL(CH(i))
    if (p < 0 || p >= n || CH(p) != '(') Py_RETURN_NONE;
    p++;
    PyObject *spans = PyList_New(0);
    if (spans == NULL) return NULL;
    for (;;) {
        while (p < n && SPACE(p)) p++;
        Py_ssize_t start = p;
        if (p >= n) goto no;
        Py_UCS4 c = CH(p);
        if (c == '\'') {
            p++;
            for (;;) {
                if (p >= n) goto no;
                if (CH(p) == '\'') {
                    if (p + 1 < n && CH(p + 1) == '\'') {
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                p++;
            }
        } else if (c == 'N' || c == 'n' || c == 't' || c == 'f') {
            static const char *words[] = {"NULL", "null", "true", "false"};
            int matched = 0;
            for (int w = 0; w < 4 && !matched; w++) {
                Py_ssize_t len = (Py_ssize_t)strlen(words[w]), k = 0;
                while (k < len && p + k < n && CH(p + k) == (Py_UCS4)words[w][k]) k++;
                if (k == len) {
                    p += len;
                    matched = 1;
                }
            }
            if (!matched) goto no;
        } else {
            if (c == '+' || c == '-') p++;
            Py_ssize_t digits = p;
            while (p < n && DIGIT(p)) p++;
            if (p > digits) { /* \d+\.?\d* */
                if (p < n && CH(p) == '.') {
                    p++;
                    while (p < n && DIGIT(p)) p++;
                }
            } else { /* \.\d+ */
                if (!(p + 1 < n && CH(p) == '.' && DIGIT(p + 1))) goto no;
                p++;
                while (p < n && DIGIT(p)) p++;
            }
            if (p < n && (CH(p) == 'e' || CH(p) == 'E')) { /* (?:[eE][+-]?\d+)? */
                Py_ssize_t e = p + 1;
                if (e < n && (CH(e) == '+' || CH(e) == '-')) e++;
                if (e < n && DIGIT(e)) {
                    while (e < n && DIGIT(e)) e++;
                    p = e;
                }
            }
        }
        PyObject *span = Py_BuildValue("(nn)", start, p);
        if (span == NULL || PyList_Append(spans, span) < 0) {
            Py_XDECREF(span);
            Py_DECREF(spans);
            return NULL;
        }
        Py_DECREF(span);
        while (p < n && SPACE(p)) p++;
        if (p < n && CH(p) == ',') {
            p++;
            continue;
        }
        if (p < n && CH(p) == ')') {
            p++;
            break;
        }
        goto no;
    }
    while (p < n && SPACE(p)) p++; /* \s*;[ \t]*\r?\n? and the end */
    if (!(p < n && CH(p) == ';')) goto no;
    p++;
    while (p < n && (CH(p) == ' ' || CH(p) == '\t')) p++;
    if (p < n && CH(p) == '\r') p++;
    if (p < n && CH(p) == '\n') p++;
    if (p != n) goto no;
    return spans;
no:
    Py_DECREF(spans);
    Py_RETURN_NONE;
#undef CH
#undef SPACE
#undef DIGIT
}

/* --------------------------------------------------- state for another process */

static PyObject *Index_export(Index *self, PyObject *Py_UNUSED(ignored)) {
    size_t capacity = self->mask + 1;
    return Py_BuildValue(
        "(KKy#y#y#nniiiI)", (unsigned long long)self->k0, (unsigned long long)self->k1,
        (const char *)self->keys, (Py_ssize_t)(capacity * sizeof(uint64_t)),
        (const char *)self->tags, (Py_ssize_t)(capacity * sizeof(uint16_t)),
        (const char *)self->filter, (Py_ssize_t)(FILTER_BITS / 8), (Py_ssize_t)capacity,
        (Py_ssize_t)self->count, self->words, self->digits, self->emails, self->lengths);
}

static PyObject *Index_restore(PyTypeObject *type, PyObject *state) {
    unsigned long long k0, k1;
    Py_buffer keys, tags, filter;
    Py_ssize_t capacity, count;
    int words, digits, emails;
    unsigned int lengths;
    if (!PyArg_ParseTuple(state, "KKy*y*y*nniiiI", &k0, &k1, &keys, &tags, &filter, &capacity,
                          &count, &words, &digits, &emails, &lengths))
        return NULL;
    Index *self = NULL;
    if (capacity <= 0 || (capacity & (capacity - 1)) != 0 ||
        keys.len != capacity * (Py_ssize_t)sizeof(uint64_t) ||
        tags.len != capacity * (Py_ssize_t)sizeof(uint16_t) || filter.len != FILTER_BITS / 8) {
        PyErr_SetString(PyExc_ValueError, "not the state of an index");
        goto out;
    }
    self = (Index *)type->tp_alloc(type, 0);
    if (self == NULL) goto out;
    self->k0 = k0;
    self->k1 = k1;
    self->keys = PyMem_Malloc((size_t)keys.len);
    self->tags = PyMem_Malloc((size_t)tags.len);
    self->filter = PyMem_Malloc((size_t)filter.len);
    if (self->keys == NULL || self->tags == NULL || self->filter == NULL) {
        Py_CLEAR(self);
        PyErr_NoMemory();
        goto out;
    }
    memcpy(self->keys, keys.buf, (size_t)keys.len);
    memcpy(self->tags, tags.buf, (size_t)tags.len);
    memcpy(self->filter, filter.buf, (size_t)filter.len);
    self->mask = (size_t)capacity - 1;
    self->count = (size_t)count;
    self->words = words;
    self->digits = digits;
    self->emails = emails;
    self->lengths = lengths;
out:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&tags);
    PyBuffer_Release(&filter);
    return (PyObject *)self;
}

static PyObject *Index_get_count(Index *self, void *Py_UNUSED(closure)) {
    return PyLong_FromSize_t(self->count);
}

static PyObject *Index_get_flags(Index *self, void *Py_UNUSED(closure)) {
    return Py_BuildValue("(iiiI)", self->words, self->digits, self->emails, self->lengths);
}

/* siphash(key16, data) -> int: SipHash-2-4, for the tests against the paper's vectors. */
static PyObject *fast_siphash(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer key, data;
    if (!PyArg_ParseTuple(args, "y*y*", &key, &data)) return NULL;
    PyObject *result = NULL;
    if (key.len != 16) {
        PyErr_SetString(PyExc_ValueError, "the key is 16 bytes");
    } else {
        const unsigned char *k = key.buf;
        result = PyLong_FromUnsignedLongLong(
            siphash(load64(k), load64(k + 8), -1, data.buf, (size_t)data.len));
    }
    PyBuffer_Release(&key);
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef Index_methods[] = {
    {"value_tag", (PyCFunction)Index_value_tag, METH_O, "The tag of a whole original, or -1."},
    {"add_key", (PyCFunction)Index_add_key, METH_VARARGS, "Remember a key for the search in text."},
    {"key_tag", (PyCFunction)Index_key_tag, METH_O, "The tag of a key, or -1."},
    {"first", (PyCFunction)Index_first, METH_O, "Whether a word key may start with this token."},
    {"search", (PyCFunction)Index_search, METH_VARARGS, "Add the tags of the keys inside an ASCII text."},
    {"look_rows", (PyCFunction)Index_look_rows, METH_VARARGS,
     "look() of one column of a block of plain COPY rows, read in place."},
    {"look", (PyCFunction)Index_look, METH_VARARGS, "Search the values of a block of COPY fields."},
    {"add", (PyCFunction)Index_add, METH_VARARGS, "Remember a wanted original and its keys."},
    {"collect_rows", (PyCFunction)Index_collect_rows, METH_VARARGS,
     "collect() of one column of a block of plain COPY rows, read in place."},
    {"collect", (PyCFunction)Index_collect, METH_VARARGS, "Remember the originals of a block of COPY fields."},
    {"export", (PyCFunction)Index_export, METH_NOARGS, "The state, for restore()."},
    {"restore", (PyCFunction)Index_restore, METH_O | METH_CLASS, "The index export() gave."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Index_getset[] = {
    {"count", (getter)Index_get_count, NULL, "Hashes held.", NULL},
    {"flags", (getter)Index_get_flags, NULL, "(words, digits, emails, lengths).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_ephemeral.data.sanitize._fastindex.Index",
    .tp_basicsize = sizeof(Index),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Keyed hashes of originals and the search inside ASCII texts.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Index_init,
    .tp_dealloc = (destructor)Index_dealloc,
    .tp_methods = Index_methods,
    .tp_getset = Index_getset,
};

static PyMethodDef module_methods[] = {
    {"siphash", fast_siphash, METH_VARARGS, "SipHash-2-4 of data under a 16-byte key."},
    {"insert_literals", fast_insert_literals, METH_VARARGS, "Where the literals of one INSERT row are."},
    {"plain", fast_plain, METH_O, "PLAIN.fullmatch of an ASCII str, as a bool."},
    {"may_detect", fast_may_detect, METH_O, "Whether detect() may find something in an ASCII text."},
    {"keys_of", Index_keys_of, METH_O, "original_keys() of an ASCII value, or None."},
    {"set_common_words", fast_set_common_words, METH_O, "The lower-cased common English words."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fastindex_module = {
    PyModuleDef_HEAD_INIT, "_fastindex",
    "The leak check's index of originals, compiled (see _leaks.py).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastindex(void) {
    if (PyType_Ready(&IndexType) < 0) return NULL;
    PyObject *m = PyModule_Create(&fastindex_module);
    if (m == NULL) return NULL;
    Py_INCREF(&IndexType);
    if (PyModule_AddObject(m, "Index", (PyObject *)&IndexType) < 0) {
        Py_DECREF(&IndexType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
