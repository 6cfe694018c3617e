/* Compiled fast path of musicneurons.data.midi_bytes: the byte loop of midi_bytes._read_track, in C.
 *
 * parse_tracks(data, bodies) walks the MTrk bodies data[start:end] exactly as the Python byte loop
 * does (running status, pretty_midi's note pairing and instrument numbering, mido's unknown-meta
 * tick rule) and returns
 *     (notes, instruments, info, specials, max_tick)
 * notes: bytes of int64 rows (start tick, end tick, pitch, velocity) in closing order;
 * instruments: bytes of int32, the instrument of each row; info: [(program, is_drum)] per instrument;
 * specials: [(is_meta, file offset after the status byte, track, tick)] for meta and sysex events, in
 * file order, for the Python side to check; max_tick: the largest final tick of a track.
 *
 * It returns None whenever the file leaves the well-formed path (an event running past its chunk,
 * a data byte above 127, running status after a meta/sysex/system byte or at a track start, system
 * messages, meta or sysex lengths over 10^6, varints over 4 bytes): the Python byte loop then gives
 * the exact result or error. Every read is bounds-checked against the chunk end.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_MESSAGE_LENGTH 1000000
#define MAX_VARINT_BYTES 4 /* midi_bytes.MAX_VARINT_BYTES */
#define N_KEYS 2048 /* channel << 7 | pitch */

typedef struct {
    int64_t tick;
    int32_t velocity;
    int32_t next; /* next open note of the same key, or -1 */
} OpenNote;

typedef struct {
    int64_t *rows; /* 4 per note */
    int32_t *instrument;
    Py_ssize_t n, rows_cap, instrument_cap;
} NoteBuffer;

typedef struct {
    int32_t program, channel, track;
} Group;

typedef struct {
    Group *groups;
    Py_ssize_t n, cap;
} Instruments;

static const unsigned char MIDO_META[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x09] = 1, [0x20] = 1, [0x21] = 1, [0x2F] = 1, [0x51] = 1, [0x54] = 1, [0x58] = 1, [0x59] = 1,
    [0x7F] = 1,
};

static int grow(void **buffer, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 0;
    Py_ssize_t new_cap = *cap ? *cap : 256;
    while (new_cap < need) new_cap *= 2;
    void *grown = PyMem_Realloc(*buffer, (size_t)new_cap * item);
    if (!grown) return -1;
    *buffer = grown;
    *cap = new_cap;
    return 0;
}

static int add_note(NoteBuffer *notes, int64_t start, int64_t end, int pitch, int velocity, int32_t instrument) {
    if (grow((void **)&notes->rows, &notes->rows_cap, 4 * (notes->n + 1), sizeof(int64_t)) < 0) return -1;
    if (grow((void **)&notes->instrument, &notes->instrument_cap, notes->n + 1, sizeof(int32_t)) < 0) return -1;
    int64_t *row = notes->rows + 4 * notes->n;
    row[0] = start;
    row[1] = end;
    row[2] = pitch;
    row[3] = velocity;
    notes->instrument[notes->n++] = instrument;
    return 0;
}

/* pretty_midi's instrument for (program, channel, track), created on first use */
static int32_t instrument_of(Instruments *inst, int32_t program, int32_t channel, int32_t track) {
    for (Py_ssize_t i = 0; i < inst->n; i++) {
        Group *g = &inst->groups[i];
        if (g->program == program && g->channel == channel && g->track == track) return (int32_t)i;
    }
    if (grow((void **)&inst->groups, &inst->cap, inst->n + 1, sizeof(Group)) < 0) return -1;
    inst->groups[inst->n] = (Group){program, channel, track};
    return (int32_t)inst->n++;
}

/* Read a varint at *pos (before end); -1 when it runs past end or over 4 bytes (the MIDI limit). */
static int64_t read_varint(const unsigned char *b, Py_ssize_t *pos, Py_ssize_t end) {
    int64_t value = 0;
    for (int i = 0; i < MAX_VARINT_BYTES; i++) {
        if (*pos >= end) return -1;
        unsigned char byte = b[(*pos)++];
        value = (value << 7) | (byte & 0x7F);
        if (byte < 0x80) return value;
    }
    return -1;
}

enum { OK = 0, REFUSE = 1, NO_MEMORY = 2 };

typedef struct {
    OpenNote *pool;
    Py_ssize_t pool_n, pool_cap;
    int32_t head[N_KEYS]; /* oldest open note of each key, or -1 */
    int32_t tail[N_KEYS];
} OpenNotes;

static int close_key(OpenNotes *open, int key, int64_t tick, int32_t instrument_cache[16], int programs[16],
                     int track, Instruments *inst, NoteBuffer *notes) {
    int channel = key >> 7, pitch = key & 0x7F;
    int32_t first = open->head[key];
    if (first < 0) return OK; /* spurious note-off */
    int closed = 0;
    int32_t keep_head = -1, keep_tail = -1;
    for (int32_t i = first; i >= 0;) {
        OpenNote *note = &open->pool[i];
        int32_t next = note->next;
        if (note->tick == tick) {
            /* a note started on this tick: dropped when alone, kept open when others close */
            note->next = -1;
            if (keep_tail >= 0) open->pool[keep_tail].next = i;
            else keep_head = i;
            keep_tail = i;
        } else {
            int32_t instrument = instrument_cache[channel];
            if (instrument < 0) {
                instrument = instrument_of(inst, programs[channel], channel, track);
                if (instrument < 0) return NO_MEMORY;
                instrument_cache[channel] = instrument;
            }
            if (add_note(notes, note->tick, tick, pitch, note->velocity, instrument) < 0) return NO_MEMORY;
            closed = 1;
        }
        i = next;
    }
    if (closed && keep_head >= 0) {
        open->head[key] = keep_head;
        open->tail[key] = keep_tail;
    } else {
        open->head[key] = open->tail[key] = -1;
    }
    return OK;
}

static int parse_track(const unsigned char *b, Py_ssize_t pos, Py_ssize_t end, int track, OpenNotes *open,
                       Instruments *inst, NoteBuffer *notes, PyObject *specials, int64_t *final_tick) {
    int64_t tick = 0;
    int last_status = -1;
    int programs[16] = {0};
    int32_t instrument_cache[16];
    for (int i = 0; i < 16; i++) instrument_cache[i] = -1;
    for (int i = 0; i < N_KEYS; i++) open->head[i] = open->tail[i] = -1;
    open->pool_n = 0;

    while (pos < end) {
        int64_t delta = read_varint(b, &pos, end);
        if (delta < 0 || pos >= end) return REFUSE;
        tick += delta;
        if (tick > ((int64_t)1 << 60)) return REFUSE;
        int status = b[pos];
        if (status < 0x80) {
            if (last_status < 0x80 || last_status >= 0xF0) return REFUSE;
            status = last_status;
        } else {
            pos++;
            if (status != 0xFF) last_status = status;
        }
        int kind = status >> 4, channel = status & 0x0F;
        if (kind == 0x8 || kind == 0x9) {
            if (pos + 2 > end) return REFUSE;
            int pitch = b[pos], velocity = b[pos + 1];
            pos += 2;
            if ((pitch | velocity) > 127) return REFUSE;
            int key = (channel << 7) | pitch;
            if (velocity && kind == 0x9) {
                if (grow((void **)&open->pool, &open->pool_cap, open->pool_n + 1, sizeof(OpenNote)) < 0)
                    return NO_MEMORY;
                int32_t i = (int32_t)open->pool_n++;
                open->pool[i] = (OpenNote){tick, velocity, -1};
                if (open->tail[key] >= 0) open->pool[open->tail[key]].next = i;
                else open->head[key] = i;
                open->tail[key] = i;
                continue;
            }
            int r = close_key(open, key, tick, instrument_cache, programs, track, inst, notes);
            if (r != OK) return r;
        } else if (kind == 0xA || kind == 0xB || kind == 0xE) {
            if (pos + 2 > end || (b[pos] | b[pos + 1]) > 127) return REFUSE;
            pos += 2;
        } else if (kind == 0xC || kind == 0xD) {
            if (pos + 1 > end || b[pos] > 127) return REFUSE;
            if (kind == 0xC) {
                programs[channel] = b[pos];
                instrument_cache[channel] = -1;
            }
            pos += 1;
        } else if (status == 0xFF || status == 0xF0 || status == 0xF7) {
            int is_meta = status == 0xFF;
            Py_ssize_t after_status = pos;
            int meta_type = -1;
            if (is_meta) {
                if (pos >= end) return REFUSE;
                meta_type = b[pos++];
            }
            int64_t length = read_varint(b, &pos, end);
            if (length < 0 || length > MAX_MESSAGE_LENGTH || pos + length > end) return REFUSE;
            pos += (Py_ssize_t)length;
            if (is_meta && !MIDO_META[meta_type]) tick -= delta; /* mido drops the delta of unknown metas */
            PyObject *item = Py_BuildValue("(OnIL)", is_meta ? Py_True : Py_False, after_status,
                                           (unsigned int)track, (long long)tick);
            if (!item || PyList_Append(specials, item) < 0) {
                Py_XDECREF(item);
                return NO_MEMORY;
            }
            Py_DECREF(item);
        } else {
            return REFUSE; /* system common and real-time messages: the byte loop decides */
        }
    }
    *final_tick = tick;
    return OK;
}

static PyObject *parse_tracks(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer view;
    PyObject *bodies;
    if (!PyArg_ParseTuple(args, "y*O", &view, &bodies)) return NULL;
    PyObject *result = NULL, *specials = NULL, *info = NULL;
    NoteBuffer notes = {0};
    Instruments inst = {0};
    OpenNotes *open = PyMem_Calloc(1, sizeof(OpenNotes));
    PyObject *seq = PySequence_Fast(bodies, "bodies must be a sequence of (start, end)");
    specials = PyList_New(0);
    if (!open || !seq || !specials) goto done;

    const unsigned char *b = view.buf;
    Py_ssize_t n_tracks = PySequence_Fast_GET_SIZE(seq);
    int64_t max_tick = -1;
    int status = OK;
    for (Py_ssize_t t = 0; t < n_tracks && status == OK; t++) {
        Py_ssize_t start, end;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, t), "nn", &start, &end)) goto done;
        if (start < 0 || end > view.len || start >= end) {
            status = REFUSE;
            break;
        }
        int64_t final_tick = 0;
        status = parse_track(b, start, end, (int)t, open, &inst, &notes, specials, &final_tick);
        if (final_tick > max_tick) max_tick = final_tick;
    }
    if (status == NO_MEMORY) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    if (status == REFUSE) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    info = PyList_New(inst.n);
    if (!info) goto done;
    for (Py_ssize_t i = 0; i < inst.n; i++) {
        PyObject *pair = Py_BuildValue("(iO)", inst.groups[i].program, inst.groups[i].channel == 9 ? Py_True : Py_False);
        if (!pair) goto done;
        PyList_SET_ITEM(info, i, pair);
    }
    static const char empty[1] = {0};
    result = Py_BuildValue("(y#y#OOL)", notes.rows ? (const char *)notes.rows : empty, (Py_ssize_t)(notes.n * 4 * sizeof(int64_t)),
                           notes.instrument ? (const char *)notes.instrument : empty, (Py_ssize_t)(notes.n * sizeof(int32_t)), info,
                           specials, (long long)max_tick);

done:
    Py_XDECREF(info);
    Py_XDECREF(specials);
    Py_XDECREF(seq);
    if (open) PyMem_Free(open->pool);
    PyMem_Free(open);
    PyMem_Free(notes.rows);
    PyMem_Free(notes.instrument);
    PyMem_Free(inst.groups);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"parse_tracks", parse_tracks, METH_VARARGS,
     "parse_tracks(data, bodies) -> (notes, instruments, info, specials, max_tick) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_midi_events",
                                    "Compiled fast path of musicneurons.data.midi_bytes' byte loop.", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__midi_events(void) { return PyModule_Create(&module); }
