/* A field of COPY's text format decoded, shared by _fastcopy.c and
 * _fastindex.c (both include it; it is not a module of its own).
 *
 * copy_decode_simple(f, n, out): the field f[0..n) with its simple escapes
 * decoded into out (n bytes are enough): \b \f \n \r \t \v, and a backslash
 * before any other character but a digit 0-7 or x (that character itself;
 * a backslash at the end stays), as copy_decode() of _pgdump.py does. The
 * decoded length, or -1 for a numeric escape (octal or hex: its bytes may
 * be part of a UTF-8 character, which the Python code decodes).
 */
#ifndef EPH_COPYFIELD_H
#define EPH_COPYFIELD_H

static Py_ssize_t copy_decode_simple(const char *f, Py_ssize_t n, char *out) {
    Py_ssize_t j = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = f[i];
        if (c != '\\') {
            out[j++] = c;
            continue;
        }
        if (i + 1 == n) {
            out[j++] = '\\';
            break;
        }
        c = f[++i];
        switch (c) {
        case 'b': out[j++] = '\b'; break;
        case 'f': out[j++] = '\f'; break;
        case 'n': out[j++] = '\n'; break;
        case 'r': out[j++] = '\r'; break;
        case 't': out[j++] = '\t'; break;
        case 'v': out[j++] = '\v'; break;
        case 'x': return -1;
        default:
            if (c >= '0' && c <= '7') return -1;
            out[j++] = c;
        }
    }
    return j;
}

#endif
