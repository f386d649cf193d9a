/* Golden Cascade2 runs of C FANN 2.2.0, phase by phase, for tests/neural/test_cascade_parity.py.
 *
 *   make_cascade_golden <file.train> <rprop|quickprop> <output activation id> <seed> <max_neurons>
 *                       <desired_error> <name>
 *
 * Writes, in the current folder: <name>.json (every phase, below), <name>_n<h>.net (the network
 * with h hidden neurons as its output training starts), <name>_n<h>_trained.net (the same after
 * that output training) and <name>_final.net (after the final output training, which starts from
 * <name>_n<max_neurons>.net, or from the last _trained net when the target stopped the loop). It runs fann_cascadetrain_on_data's loop one phase at a time, through the library's own
 * (exported, internal) functions, so that every phase can be recorded:
 *
 *   round k = 1 .. max_neurons:  fann_train_outputs(desired)  -> stop if the desired error is reached
 *                                fann_initialize_candidates    (the only draws from rand())
 *                                fann_train_candidates
 *                                fann_install_candidate
 *   then                         fann_train_outputs(0.0)
 *
 * Each training phase runs once for real (the library decides when it stops), then again from a
 * snapshot of the weights and training arrays, one epoch at a time, to record every epoch; the
 * replay must end on the same weights bit for bit. Finally the same seed is run through
 * fann_cascadetrain_on_data itself, and its network must save to the same text as the phased run:
 * the recorded phases are the library's loop, not our reading of it.
 *
 * Build and run: see README.md in this folder (gcc ... -lfloatfann -lm, libfann-dev 2.2.0).
 */
#include <floatfann.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* internal functions of libfloatfann 2.2.0 (exported, declared in fann_internal.h / fann_cascade.c) */
int fann_train_outputs(struct fann *ann, struct fann_train_data *data, float desired_error);
float fann_train_outputs_epoch(struct fann *ann, struct fann_train_data *data);
int fann_initialize_candidates(struct fann *ann);
int fann_train_candidates(struct fann *ann, struct fann_train_data *data);
fann_type fann_train_candidates_epoch(struct fann *ann, struct fann_train_data *data);
void fann_install_candidate(struct fann *ann);
void fann_set_shortcut_connections(struct fann *ann);
void fann_clear_train_arrays(struct fann *ann);
int fann_desired_error_reached(struct fann *ann, float desired_error);

static void die(const char *why) {
    fprintf(stderr, "make_cascade_golden: %s\n", why);
    exit(1);
}

static struct fann *fresh(unsigned n_in, unsigned n_out, int act_out, enum fann_train_enum algorithm, unsigned seed) {
    struct fann *ann = fann_create_shortcut(2, n_in, n_out);
    fann_set_activation_function_output(ann, (enum fann_activationfunc_enum)act_out);
    fann_set_training_algorithm(ann, algorithm);
    srand(seed); /* after the create, which reseeds rand() from /dev/urandom */
    fann_randomize_weights(ann, -0.1f, 0.1f);
    return ann;
}

static void save(struct fann *ann, const char *path) {
    fann_set_shortcut_connections(ann); /* fann_save follows these pointers; cascading leaves them stale */
    if (fann_save(ann, path) != 0) die("fann_save failed");
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot reopen a saved net");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc((size_t)n + 1, 1);
    if (fread(text, 1, (size_t)n, f) != (size_t)n) die("short read");
    fclose(f);
    return text;
}

typedef struct {
    unsigned first, count;
    fann_type *w, *slopes, *steps, *prev;
} Snapshot;

static Snapshot take(struct fann *ann, unsigned first, unsigned count) {
    Snapshot s = {first, count, malloc(count * sizeof(fann_type)), NULL, NULL, NULL};
    memcpy(s.w, ann->weights + first, count * sizeof(fann_type));
    if (ann->train_slopes) {
        s.slopes = malloc(count * sizeof(fann_type));
        s.steps = malloc(count * sizeof(fann_type));
        s.prev = malloc(count * sizeof(fann_type));
        memcpy(s.slopes, ann->train_slopes + first, count * sizeof(fann_type));
        memcpy(s.steps, ann->prev_steps + first, count * sizeof(fann_type));
        memcpy(s.prev, ann->prev_train_slopes + first, count * sizeof(fann_type));
    }
    return s;
}

static void restore(struct fann *ann, const Snapshot *s) {
    memcpy(ann->weights + s->first, s->w, s->count * sizeof(fann_type));
    if (s->slopes) {
        memcpy(ann->train_slopes + s->first, s->slopes, s->count * sizeof(fann_type));
        memcpy(ann->prev_steps + s->first, s->steps, s->count * sizeof(fann_type));
        memcpy(ann->prev_train_slopes + s->first, s->prev, s->count * sizeof(fann_type));
    }
}

static void release(Snapshot *s) {
    free(s->w), free(s->slopes), free(s->steps), free(s->prev);
}

static void print_floats(FILE *out, const fann_type *v, unsigned n) {
    fputc('[', out);
    for (unsigned i = 0; i < n; i++) fprintf(out, "%s%.9g", i ? ", " : "", (double)v[i]);
    fputc(']', out);
}

/* fann_train_outputs for real, then replayed epoch by epoch: {"epochs", "mse", "bit_fail", "sse"} */
static unsigned output_phase(FILE *out, struct fann *ann, struct fann_train_data *data, float desired) {
    unsigned first = (ann->last_layer - 1)->first_neuron->first_con, count = ann->total_connections - first;
    Snapshot before = take(ann, first, count);
    unsigned epochs = (unsigned)fann_train_outputs(ann, data, desired);
    Snapshot after = take(ann, first, count);
    float mse = fann_get_MSE(ann), sse = ann->MSE_value;
    unsigned bit_fail = ann->num_bit_fail;
    restore(ann, &before);
    fann_clear_train_arrays(ann);
    fprintf(out, "{\"epochs\": %u, \"mse\": [", epochs);
    unsigned *bits = malloc(epochs * sizeof *bits);
    for (unsigned e = 0; e < epochs; e++) {
        fprintf(out, "%s%.9g", e ? ", " : "", (double)fann_train_outputs_epoch(ann, data));
        bits[e] = ann->num_bit_fail;
    }
    fprintf(out, "], \"bit_fail\": [");
    for (unsigned e = 0; e < epochs; e++) fprintf(out, "%s%u", e ? ", " : "", bits[e]);
    fprintf(out, "], \"sse\": %.9g}", (double)ann->MSE_value);
    if (memcmp(ann->weights + first, after.w, count * sizeof(fann_type)) != 0 || fann_get_MSE(ann) != mse
        || ann->MSE_value != sse || ann->num_bit_fail != bit_fail)
        die("the replayed output training did not end where fann_train_outputs did");
    free(bits);
    release(&before), release(&after);
    return epochs;
}

/* fann_initialize_candidates + fann_train_candidates for real, then replayed epoch by epoch */
static void candidate_phase(FILE *out, struct fann *ann, struct fann_train_data *data) {
    if (fann_initialize_candidates(ann) != 0) die("fann_initialize_candidates failed");
    unsigned n_cand = fann_get_cascade_num_candidates(ann), n_out = ann->num_output;
    struct fann_neuron *cands = ann->first_layer->first_neuron + ann->total_neurons + 1;
    unsigned n_in = cands[0].last_con - cands[0].first_con, per = n_in + n_out, first = cands[0].first_con;
    Snapshot before = take(ann, first, n_cand * per);
    unsigned epochs = (unsigned)fann_train_candidates(ann, data);
    unsigned best = ann->cascade_best_candidate;
    Snapshot after = take(ann, first, n_cand * per);
    restore(ann, &before);
    fprintf(out, "{\"inputs\": %u, \"outputs\": %u, \"initial\": [", n_in, n_out);
    for (unsigned c = 0; c < n_cand; c++) {
        fputs(c ? ",\n    " : "\n    ", out);
        print_floats(out, before.w + c * per, per);
    }
    fprintf(out, "],\n   \"activations\": [");
    for (unsigned c = 0; c < n_cand; c++) fprintf(out, "%s%d", c ? ", " : "", cands[c].activation_function);
    fprintf(out, "],\n   \"steepnesses\": [");
    for (unsigned c = 0; c < n_cand; c++) fprintf(out, "%s%.9g", c ? ", " : "", (double)cands[c].activation_steepness);
    fann_type *best_scores = malloc(epochs * sizeof *best_scores), *first_scores = malloc(n_cand * sizeof *first_scores);
    unsigned *best_index = malloc(epochs * sizeof *best_index);
    for (unsigned e = 0; e < epochs; e++) {
        best_scores[e] = fann_train_candidates_epoch(ann, data);
        best_index[e] = ann->cascade_best_candidate - ann->total_neurons - 1;
        if (e == 0) memcpy(first_scores, ann->cascade_candidate_scores, n_cand * sizeof *first_scores);
    }
    fprintf(out, "],\n   \"sse\": %.9g, \"epochs\": %u, \"best\": [", (double)ann->MSE_value, epochs);
    for (unsigned e = 0; e < epochs; e++) fprintf(out, "%s%u", e ? ", " : "", best_index[e]);
    fprintf(out, "],\n   \"best_score\": ");
    print_floats(out, best_scores, epochs);
    fprintf(out, ",\n   \"first_scores\": ");
    print_floats(out, first_scores, n_cand);
    fprintf(out, ",\n   \"last_scores\": ");
    print_floats(out, ann->cascade_candidate_scores, n_cand);
    fprintf(out, ",\n   \"trained\": [");
    for (unsigned c = 0; c < n_cand; c++) {
        fputs(c ? ",\n    " : "\n    ", out);
        print_floats(out, after.w + c * per, per);
    }
    fprintf(out, "]}");
    if (memcmp(ann->weights + first, after.w, n_cand * per * sizeof(fann_type)) != 0 || ann->cascade_best_candidate != best)
        die("the replayed candidate training did not end where fann_train_candidates did");
    free(best_scores), free(first_scores), free(best_index);
    release(&before), release(&after);
}

int main(int argc, char **argv) {
    if (argc != 8) die("usage: make_cascade_golden file.train rprop|quickprop act_out seed max_neurons desired name");
    struct fann_train_data *data = fann_read_train_from_file(argv[1]);
    if (!data) die("cannot read the data");
    enum fann_train_enum algorithm = strcmp(argv[2], "rprop") == 0 ? FANN_TRAIN_RPROP : FANN_TRAIN_QUICKPROP;
    int act_out = atoi(argv[3]);
    unsigned seed = (unsigned)atoi(argv[4]), max_neurons = (unsigned)atoi(argv[5]);
    float desired = (float)atof(argv[6]);
    const char *name = argv[7];
    unsigned n_in = fann_num_input_train_data(data), n_out = fann_num_output_train_data(data);
    char path[512];

    snprintf(path, sizeof path, "%s.json", name);
    FILE *out = fopen(path, "w");
    if (!out) die("cannot write the json");
    struct fann *ann = fresh(n_in, n_out, act_out, algorithm, seed);
    fprintf(out, "{\"data\": \"%s\", \"algorithm\": \"%s\", \"activation_output\": %d, \"seed\": %u, "
                 "\"max_neurons\": %u, \"desired_error\": %.9g,\n \"rounds\": [",
            strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1], argv[2], act_out, seed, max_neurons,
            (double)desired);
    unsigned k;
    for (k = 1; k <= max_neurons; k++) {
        snprintf(path, sizeof path, "%s_n%u.net", name, k - 1);
        save(ann, path);
        fprintf(out, "%s\n  {\"start\": \"%s\",\n   \"outputs\": ", k > 1 ? "," : "", path);
        output_phase(out, ann, data, desired);
        snprintf(path, sizeof path, "%s_n%u_trained.net", name, k - 1);
        save(ann, path);
        int reached = fann_desired_error_reached(ann, desired) == 0;
        fprintf(out, ",\n   \"trained\": \"%s\", \"reached\": %s", path, reached ? "true" : "false");
        if (reached) {
            fprintf(out, "}");
            break;
        }
        fprintf(out, ",\n   \"candidates\": ");
        candidate_phase(out, ann, data);
        fann_install_candidate(ann);
        fprintf(out, "}");
    }
    if (k > max_neurons) { /* the loop ran out of rounds: the final phase starts from the last install */
        snprintf(path, sizeof path, "%s_n%u.net", name, max_neurons);
        save(ann, path);
    } /* else it stopped on the target: the final phase starts from the round's trained net, named in path */
    fprintf(out, "],\n \"final\": {\"start\": \"%s\", \"outputs\": ", path);
    output_phase(out, ann, data, 0.0f);
    snprintf(path, sizeof path, "%s_final.net", name);
    save(ann, path);
    fann_reset_MSE(ann);
    float test_mse = fann_test_data(ann, data);
    fprintf(out, ",\n  \"net\": \"%s\", \"test_mse\": %.9g, \"test_bit_fail\": %u}}\n", path, (double)test_mse,
            fann_get_bit_fail(ann));
    fclose(out);

    /* the library's own loop, same seed: it must build the same network */
    struct fann *library = fresh(n_in, n_out, act_out, algorithm, seed);
    fann_cascadetrain_on_data(library, data, max_neurons, 0, desired);
    save(library, "library_loop.tmp.net");
    char *a = slurp(path), *b = slurp("library_loop.tmp.net");
    remove("library_loop.tmp.net");
    if (strcmp(a, b) != 0) die("fann_cascadetrain_on_data built a different network than the phased run");
    free(a), free(b);
    fann_destroy(library);
    fann_destroy(ann);
    fann_destroy_train(data);
    return 0;
}
