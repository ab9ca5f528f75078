/* The compiled form of billflow's DigestSet (engine/core/digests.py says what it is for).
 *
 * Every event and every billed entry goes through a DigestSet: its id is hashed to an
 * 8-byte XXH3 digest, looked up and usually added. In Python each of those operations
 * costs a few hundred nanoseconds of interpretation around a few dozen of real work, so
 * the set is also built here, behind the same interface, with the same digests.
 *
 * Layout: an open-addressing table of 64-bit digests (the 8 bytes read big-endian),
 * linear probing, a power-of-two number of slots, at most three quarters full. A slot of
 * 0 is empty; the digest 0 itself, should an id ever hash to it, is kept in a flag.
 * Removal shifts the following run of digests back, so there are no tombstones and a
 * look-up never walks more than the run its digest belongs to. Digests are uniformly
 * spread (XXH3 avalanches fully), so the low bits pick the home slot.
 *
 * Memory: 8 bytes a slot, between 10.7 and 21 bytes a digest as the table fills and
 * doubles (the packed Python form holds about 9).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    uint64_t *slots;      /* `capacity` digests; 0 marks an empty slot */
    size_t capacity;      /* 0 (no table yet) or a power of two */
    Py_ssize_t used;      /* digests in the table (the digest 0 not counted) */
    int has_zero;         /* whether the digest 0 is a member */
    int prefix_bits;      /* the pure-Python form's pack count, kept for equal behaviour */
} DigestSetObject;

static PyObject *xxh3_intdigest = NULL;  /* xxhash.xxh3_64_intdigest */
static PyTypeObject DigestSetType;

#define MIN_CAPACITY 16

static inline uint64_t load_be(const unsigned char *p)
{
    return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40)
        | ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16)
        | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
}

static inline void store_be(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static inline size_t home_of(uint64_t d, size_t mask)
{
    return (size_t)(d ^ (d >> 32)) & mask;
}

/* ---------------------------------------------------------------- the table */

static int ds_contains(DigestSetObject *s, uint64_t d)
{
    if (d == 0)
        return s->has_zero;
    if (s->capacity == 0)
        return 0;
    size_t mask = s->capacity - 1, i = home_of(d, mask);
    for (;;) {
        uint64_t v = s->slots[i];
        if (v == d)
            return 1;
        if (v == 0)
            return 0;
        i = (i + 1) & mask;
    }
}

static void place(uint64_t *slots, size_t mask, uint64_t d)
{
    size_t i = home_of(d, mask);
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = d;
}

static int ds_resize(DigestSetObject *s, size_t capacity)
{
    uint64_t *slots = PyMem_Calloc(capacity, sizeof(uint64_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < s->capacity; i++) {
        if (s->slots[i] != 0)
            place(slots, capacity - 1, s->slots[i]);
    }
    PyMem_Free(s->slots);
    s->slots = slots;
    s->capacity = capacity;
    return 0;
}

/* 1 if added, 0 if it was a member already, -1 on error (no memory). */
static int ds_add(DigestSetObject *s, uint64_t d)
{
    if (d == 0) {
        if (s->has_zero)
            return 0;
        s->has_zero = 1;
        return 1;
    }
    if ((size_t)(s->used + 1) * 4 > s->capacity * 3) {
        if (ds_resize(s, s->capacity ? s->capacity * 2 : MIN_CAPACITY) < 0)
            return -1;
    }
    size_t mask = s->capacity - 1, i = home_of(d, mask);
    for (;;) {
        uint64_t v = s->slots[i];
        if (v == d)
            return 0;
        if (v == 0)
            break;
        i = (i + 1) & mask;
    }
    s->slots[i] = d;
    s->used++;
    return 1;
}

/* 1 if removed, 0 if it was not a member. */
static int ds_remove(DigestSetObject *s, uint64_t d)
{
    if (d == 0) {
        int had = s->has_zero;
        s->has_zero = 0;
        return had;
    }
    if (s->capacity == 0)
        return 0;
    size_t mask = s->capacity - 1, hole = home_of(d, mask);
    for (;;) {
        uint64_t v = s->slots[hole];
        if (v == 0)
            return 0;
        if (v == d)
            break;
        hole = (hole + 1) & mask;
    }
    /* Shift back each following digest of the run that may live in the hole: one whose
       home is not cyclically within (hole, j]. */
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        uint64_t w = s->slots[j];
        if (w == 0)
            break;
        size_t k = home_of(w, mask);
        int stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!stays) {
            s->slots[hole] = w;
            hole = j;
        }
    }
    s->slots[hole] = 0;
    s->used--;
    return 1;
}

/* ---------------------------------------------------------------- conversions */

/* The digest of an 8-byte bytes object; 0 with *ok = 0 when `value` is not one. */
static uint64_t digest_of_bytes(PyObject *value, int *ok)
{
    if (PyBytes_CheckExact(value) && PyBytes_GET_SIZE(value) == 8) {
        *ok = 1;
        return load_be((const unsigned char *)PyBytes_AS_STRING(value));
    }
    *ok = 0;
    return 0;
}

/* XXH3-64 of the UTF-8 of `text` (as `xxh3_64_digest(text.encode())`); -1 on error. */
static int digest_of_text(PyObject *text, uint64_t *out)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "an id is a str, not %.100s", Py_TYPE(text)->tp_name);
        return -1;
    }
    PyObject *encoded = PyUnicode_AsUTF8String(text);
    if (encoded == NULL)
        return -1;
    PyObject *number = PyObject_CallOneArg(xxh3_intdigest, encoded);
    Py_DECREF(encoded);
    if (number == NULL)
        return -1;
    unsigned long long value = PyLong_AsUnsignedLongLong(number);
    Py_DECREF(number);
    if (value == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = (uint64_t)value;
    return 0;
}

/* ---------------------------------------------------------------- the type */

static int add_each(DigestSetObject *self, PyObject *digests)
{
    PyObject *iterator = PyObject_GetIter(digests);
    if (iterator == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int ok;
        uint64_t d = digest_of_bytes(item, &ok);
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "a digest is 8 bytes, not %R", item);
            Py_DECREF(item);
            Py_DECREF(iterator);
            return -1;
        }
        Py_DECREF(item);
        if (ds_add(self, d) < 0) {
            Py_DECREF(iterator);
            return -1;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *DigestSet_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"digests", "prefix_bits", NULL};
    PyObject *digests = NULL;
    int prefix_bits = 16;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$i:DigestSet", keywords, &digests,
                                     &prefix_bits))
        return NULL;
    if (prefix_bits < 1 || prefix_bits > 16) {
        PyErr_Format(PyExc_ValueError, "prefix_bits is 1 to 16, not %d", prefix_bits);
        return NULL;
    }
    DigestSetObject *self = (DigestSetObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->slots = NULL;
    self->capacity = 0;
    self->used = 0;
    self->has_zero = 0;
    self->prefix_bits = prefix_bits;
    if (digests != NULL && add_each(self, digests) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void DigestSet_dealloc(DigestSetObject *self)
{
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t DigestSet_len(DigestSetObject *self)
{
    return self->used + self->has_zero;
}

static int DigestSet_sq_contains(DigestSetObject *self, PyObject *value)
{
    int ok;
    uint64_t d = digest_of_bytes(value, &ok);
    return ok && ds_contains(self, d);
}

static PyObject *DigestSet_has_text(DigestSetObject *self, PyObject *text)
{
    uint64_t d;
    if (digest_of_text(text, &d) < 0)
        return NULL;
    return PyBool_FromLong(ds_contains(self, d));
}

static PyObject *DigestSet_add_text(DigestSetObject *self, PyObject *text)
{
    uint64_t d;
    if (digest_of_text(text, &d) < 0)
        return NULL;
    int added = ds_add(self, d);
    if (added < 0)
        return NULL;
    return PyBool_FromLong(added);
}

static PyObject *DigestSet_add_texts(DigestSetObject *self, PyObject *texts)
{
    PyObject *iterator = PyObject_GetIter(texts);
    if (iterator == NULL)
        return NULL;
    PyObject *added = PyByteArray_FromStringAndSize(NULL, 0);
    if (added == NULL) {
        Py_DECREF(iterator);
        return NULL;
    }
    PyObject *text;
    while ((text = PyIter_Next(iterator)) != NULL) {
        uint64_t d;
        int failed = digest_of_text(text, &d) < 0;
        Py_DECREF(text);
        int result = failed ? -1 : ds_add(self, d);
        if (result < 0)
            goto error;
        if (result) {
            Py_ssize_t size = PyByteArray_GET_SIZE(added);
            if (PyByteArray_Resize(added, size + 8) < 0)
                goto error;
            store_be((unsigned char *)PyByteArray_AS_STRING(added) + size, d);
        }
    }
    if (PyErr_Occurred())
        goto error;
    Py_DECREF(iterator);
    PyObject *result = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(added),
                                                 PyByteArray_GET_SIZE(added));
    Py_DECREF(added);
    return result;
error:
    Py_DECREF(iterator);
    Py_DECREF(added);
    return NULL;
}

static PyObject *DigestSet_add_new(DigestSetObject *self, PyObject *value)
{
    int ok;
    uint64_t d = digest_of_bytes(value, &ok);
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "a digest is 8 bytes, not %R", value);
        return NULL;
    }
    int added = ds_add(self, d);
    if (added < 0)
        return NULL;
    return PyBool_FromLong(added);
}

static PyObject *DigestSet_add(DigestSetObject *self, PyObject *value)
{
    PyObject *added = DigestSet_add_new(self, value);
    if (added == NULL)
        return NULL;
    Py_DECREF(added);
    Py_RETURN_NONE;
}

static PyObject *DigestSet_discard(DigestSetObject *self, PyObject *value)
{
    int ok;
    uint64_t d = digest_of_bytes(value, &ok);
    if (ok)
        ds_remove(self, d);
    Py_RETURN_NONE;
}

static PyObject *DigestSet_discard_all(DigestSetObject *self, PyObject *values)
{
    Py_buffer view;
    if (PyObject_GetBuffer(values, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *at = view.buf;
    Py_ssize_t removed = 0;
    for (Py_ssize_t offset = 0; offset + 8 <= view.len; offset += 8)
        removed += ds_remove(self, load_be(at + offset));
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(removed);
}

static PyObject *DigestSet_packed(DigestSetObject *self)
{
    Py_ssize_t size = DigestSet_len(self) * 8;
    PyObject *packed = PyBytes_FromStringAndSize(NULL, size);
    if (packed == NULL)
        return NULL;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(packed);
    if (self->has_zero) {
        store_be(out, 0);
        out += 8;
    }
    for (size_t i = 0; i < self->capacity; i++) {
        if (self->slots[i] != 0) {
            store_be(out, self->slots[i]);
            out += 8;
        }
    }
    return packed;
}

/* The members as a list of 8-byte bytes. They are read from a packed copy taken first: an
   allocation can run arbitrary code (a finalizer), which must not find the table half
   read. */
static PyObject *members(DigestSetObject *self)
{
    PyObject *packed = DigestSet_packed(self);
    if (packed == NULL)
        return NULL;
    Py_ssize_t count = PyBytes_GET_SIZE(packed) / 8;
    PyObject *list = PyList_New(count);
    if (list != NULL) {
        for (Py_ssize_t n = 0; n < count; n++) {
            PyObject *item = PyBytes_FromStringAndSize(PyBytes_AS_STRING(packed) + n * 8, 8);
            if (item == NULL) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, n, item);
        }
    }
    Py_DECREF(packed);
    return list;
}

static PyObject *DigestSet_iter(DigestSetObject *self)
{
    PyObject *list = members(self);
    if (list == NULL)
        return NULL;
    PyObject *iterator = PyObject_GetIter(list);
    Py_DECREF(list);
    return iterator;
}

static PyObject *DigestSet_reduce(DigestSetObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *module = PyImport_ImportModule("engine.core._digestset");
    if (module == NULL)
        return NULL;
    PyObject *rebuild = PyObject_GetAttrString(module, "_rebuild");
    Py_DECREF(module);
    if (rebuild == NULL)
        return NULL;
    PyObject *packed = DigestSet_packed(self);
    if (packed == NULL) {
        Py_DECREF(rebuild);
        return NULL;
    }
    return Py_BuildValue("(N(Ni))", rebuild, packed, self->prefix_bits);
}

static PyObject *DigestSet_sizeof(DigestSetObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(sizeof(DigestSetObject) + self->capacity * sizeof(uint64_t));
}

static PyObject *DigestSet_richcompare(DigestSetObject *self, PyObject *other, int op)
{
    if ((op != Py_EQ && op != Py_NE)
        || !(PyAnySet_Check(other) || PyObject_TypeCheck(other, &DigestSetType)))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t size = PyObject_Size(other);
    if (size < 0)
        return NULL;
    int equal = size == DigestSet_len(self);
    if (equal) {
        PyObject *iterator = PyObject_GetIter(other), *item;
        if (iterator == NULL)
            return NULL;
        while (equal && (item = PyIter_Next(iterator)) != NULL) {
            equal = DigestSet_sq_contains(self, item);
            Py_DECREF(item);
        }
        Py_DECREF(iterator);
        if (PyErr_Occurred())
            return NULL;
    }
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static PyObject *DigestSet_repr(DigestSetObject *self)
{
    return PyUnicode_FromFormat("DigestSet(<%zd digests>)", DigestSet_len(self));
}

static PyObject *DigestSet_get_prefix_bits(DigestSetObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(self->prefix_bits);
}

static PyMethodDef DigestSet_methods[] = {
    {"has_text", (PyCFunction)DigestSet_has_text, METH_O,
     "Tell whether the digest of `text` is in the set (`digest(text) in self`)."},
    {"add_text", (PyCFunction)DigestSet_add_text, METH_O,
     "Add the digest of `text`; return False if it was there already."},
    {"add_texts", (PyCFunction)DigestSet_add_texts, METH_O,
     "Add the digest of each text; return the digests that were new, one after the other."},
    {"add_new", (PyCFunction)DigestSet_add_new, METH_O,
     "Add `value` (8 bytes); return False if it was there already."},
    {"add", (PyCFunction)DigestSet_add, METH_O, "Add `value` (8 bytes)."},
    {"discard", (PyCFunction)DigestSet_discard, METH_O, "Remove `value` if it is a member."},
    {"discard_all", (PyCFunction)DigestSet_discard_all, METH_O,
     "Remove every digest of `values` (8-byte digests one after the other); return how "
     "many were members."},
    {"__reduce__", (PyCFunction)DigestSet_reduce, METH_NOARGS, NULL},
    {"__sizeof__", (PyCFunction)DigestSet_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef DigestSet_getset[] = {
    {"prefix_bits", (getter)DigestSet_get_prefix_bits, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods DigestSet_as_sequence = {
    .sq_length = (lenfunc)DigestSet_len,
    .sq_contains = (objobjproc)DigestSet_sq_contains,
};

static PyTypeObject DigestSetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "engine.core._digestset.DigestSet",
    .tp_doc = "A set of 8-byte digests in an open-addressing table (compiled form).",
    .tp_basicsize = sizeof(DigestSetObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = DigestSet_new,
    .tp_dealloc = (destructor)DigestSet_dealloc,
    .tp_repr = (reprfunc)DigestSet_repr,
    .tp_as_sequence = &DigestSet_as_sequence,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_richcompare = (richcmpfunc)DigestSet_richcompare,
    .tp_iter = (getiterfunc)DigestSet_iter,
    .tp_methods = DigestSet_methods,
    .tp_getset = DigestSet_getset,
};

static PyObject *rebuild(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    int prefix_bits;
    if (!PyArg_ParseTuple(args, "y*i:_rebuild", &view, &prefix_bits))
        return NULL;
    PyObject *noargs = PyTuple_New(0), *kwargs = Py_BuildValue("{si}", "prefix_bits",
                                                                prefix_bits);
    DigestSetObject *self = NULL;
    if (noargs != NULL && kwargs != NULL)
        self = (DigestSetObject *)DigestSet_new(&DigestSetType, noargs, kwargs);
    Py_XDECREF(noargs);
    Py_XDECREF(kwargs);
    if (self != NULL) {
        const unsigned char *at = view.buf;
        for (Py_ssize_t offset = 0; offset + 8 <= view.len; offset += 8) {
            if (ds_add(self, load_be(at + offset)) < 0) {
                Py_CLEAR(self);
                break;
            }
        }
    }
    PyBuffer_Release(&view);
    return (PyObject *)self;
}

static PyMethodDef module_methods[] = {
    {"_rebuild", rebuild, METH_VARARGS, "A DigestSet from its packed digests (unpickling)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "engine.core._digestset",
    .m_doc = "The compiled DigestSet; engine.core.digests uses it when it is built.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__digestset(void)
{
    PyObject *xxhash = PyImport_ImportModule("xxhash");
    if (xxhash == NULL)
        return NULL;
    xxh3_intdigest = PyObject_GetAttrString(xxhash, "xxh3_64_intdigest");
    Py_DECREF(xxhash);
    if (xxh3_intdigest == NULL)
        return NULL;
    if (PyType_Ready(&DigestSetType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&DigestSetType);
    if (PyModule_AddObject(m, "DigestSet", (PyObject *)&DigestSetType) < 0) {
        Py_DECREF(&DigestSetType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
