/* C FANN baselines for bench/neural.py: each mode prints one JSON object on stdout.
 *
 *   train <init.net> <file.train> <file.test> <max_epochs> [curve.bin]
 *       fann_train_on_data's loop without reports (stop when MSE <= 0, as with desired_error 0):
 *       wall time of the epochs, epochs run, last train MSE, fann_test_data MSE on the test file;
 *       optionally every epoch's MSE (float32) to curve.bin.
 *   forward <n_nets> <repeats> <seed> <n_layers> <size>...
 *       n_nets SIGMOID_SYMMETRIC nets with weights U[-0.1, 0.1] (srand(seed)), one input each;
 *       wall time of one loop of fann_run over all nets, per repeat.
 *   pop_epoch <n_nets> <samples> <data.bin> <weights.bin> <repeats> <mse_out.bin>
 *       n_nets 8-16-4 SIGMOID_SYMMETRIC nets, RPROP, weights from weights.bin (float32, FANN's
 *       connection order, 212 per net), each with its own data set from data.bin (float32 x
 *       (n, samples, 8) then y (n, samples, 4)). The first fann_train_epoch of every net (it
 *       allocates the training arrays) writes each net's MSE to mse_out.bin; then `repeats`
 *       timed loops of one fann_train_epoch per net, sequentially.
 *
 * Links against Debian's libfloatfann (libfann-dev 2.2.0): gcc -O2 fann_bench.c -lfloatfann -lm
 */
#include <floatfann.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_seconds(const double *seconds, int n) {
    printf("\"seconds\": [");
    for (int i = 0; i < n; i++) printf("%s%.9f", i ? ", " : "", seconds[i]);
    printf("]");
}

static void *read_file(const char *path, size_t bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    void *buf = malloc(bytes);
    if (fread(buf, 1, bytes, f) != bytes) { fprintf(stderr, "%s: expected %zu bytes\n", path, bytes); exit(2); }
    fclose(f);
    return buf;
}

static int cmd_train(char **argv) {
    struct fann *ann = fann_create_from_file(argv[0]);
    struct fann_train_data *train = fann_read_train_from_file(argv[1]);
    struct fann_train_data *test = fann_read_train_from_file(argv[2]);
    unsigned max_epochs = (unsigned)atoi(argv[3]);
    if (!ann || !train || !test) { fprintf(stderr, "cannot load the net or data\n"); return 2; }
    float mse = 0.0f, *curve = malloc((max_epochs + 1) * sizeof *curve);
    unsigned epochs = 0;
    double t0 = now();
    while (epochs < max_epochs) {
        mse = fann_train_epoch(ann, train);
        curve[epochs++] = mse;
        if (mse <= 0.0f) break;
    }
    double seconds = now() - t0;
    if (argv[4] != NULL) { /* optional: every epoch's MSE as float32 */
        FILE *f = fopen(argv[4], "wb");
        if (!f || fwrite(curve, sizeof *curve, epochs, f) != epochs) { fprintf(stderr, "cannot write %s\n", argv[4]); return 2; }
        fclose(f);
    }
    free(curve);
    float test_mse = fann_test_data(ann, test);
    printf("{\"epochs\": %u, \"seconds\": %.9f, \"train_mse\": %.9g, \"test_mse\": %.9g, \"test_bit_fail\": %u}\n",
           epochs, seconds, mse, test_mse, fann_get_bit_fail(ann));
    fann_destroy_train(train);
    fann_destroy_train(test);
    fann_destroy(ann);
    return 0;
}

static int cmd_forward(int argc, char **argv) {
    int n = atoi(argv[0]), repeats = atoi(argv[1]);
    unsigned seed = (unsigned)atoi(argv[2]);
    unsigned n_layers = (unsigned)atoi(argv[3]);
    if (argc < 4 + (int)n_layers) { fprintf(stderr, "forward: missing layer sizes\n"); return 2; }
    unsigned *sizes = malloc(n_layers * sizeof *sizes);
    for (unsigned l = 0; l < n_layers; l++) sizes[l] = (unsigned)atoi(argv[4 + l]);
    unsigned n_in = sizes[0], n_out = sizes[n_layers - 1];
    struct fann **nets = malloc((size_t)n * sizeof *nets);
    for (int i = 0; i < n; i++) {
        nets[i] = fann_create_standard_array(n_layers, sizes);
        fann_set_activation_function_hidden(nets[i], FANN_SIGMOID_SYMMETRIC);
        fann_set_activation_function_output(nets[i], FANN_SIGMOID_SYMMETRIC);
    }
    srand(seed); /* after the creates: each create reseeds rand() from /dev/urandom */
    for (int i = 0; i < n; i++) fann_randomize_weights(nets[i], -0.1f, 0.1f);
    float *x = malloc((size_t)n * n_in * sizeof *x), *y = malloc((size_t)n * n_out * sizeof *y);
    for (size_t k = 0; k < (size_t)n * n_in; k++) x[k] = 2.0f * (float)rand() / (float)RAND_MAX - 1.0f;
    double *seconds = malloc((size_t)repeats * sizeof *seconds);
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            fann_type *out = fann_run(nets[i], x + (size_t)i * n_in);
            memcpy(y + (size_t)i * n_out, out, n_out * sizeof *y);
        }
        seconds[r] = now() - t0;
    }
    double checksum = 0.0;
    for (size_t k = 0; k < (size_t)n * n_out; k++) checksum += y[k];
    printf("{");
    print_seconds(seconds, repeats);
    printf(", \"checksum\": %.9g, \"weights_per_net\": %u}\n", checksum, nets[0]->total_connections);
    for (int i = 0; i < n; i++) fann_destroy(nets[i]);
    return 0;
}

static int cmd_pop_epoch(char **argv) {
    int n = atoi(argv[0]), samples = atoi(argv[1]), repeats = atoi(argv[4]);
    const unsigned n_in = 8, n_hidden = 16, n_out = 4, per_net = (n_in + 1) * n_hidden + (n_hidden + 1) * n_out;
    size_t xs = (size_t)n * samples * n_in, ys = (size_t)n * samples * n_out;
    float *data = read_file(argv[2], (xs + ys) * sizeof(float));
    float *weights = read_file(argv[3], (size_t)n * per_net * sizeof(float));
    struct fann **nets = malloc((size_t)n * sizeof *nets);
    struct fann_train_data **sets = malloc((size_t)n * sizeof *sets);
    for (int i = 0; i < n; i++) {
        nets[i] = fann_create_standard(3, n_in, n_hidden, n_out);
        fann_set_activation_function_hidden(nets[i], FANN_SIGMOID_SYMMETRIC);
        fann_set_activation_function_output(nets[i], FANN_SIGMOID_SYMMETRIC);
        fann_set_training_algorithm(nets[i], FANN_TRAIN_RPROP);
        if (nets[i]->total_connections != per_net) { fprintf(stderr, "unexpected connection count\n"); return 2; }
        memcpy(nets[i]->weights, weights + (size_t)i * per_net, per_net * sizeof(float));
        sets[i] = fann_create_train((unsigned)samples, n_in, n_out);
        for (int s = 0; s < samples; s++) {
            memcpy(sets[i]->input[s], data + ((size_t)i * samples + s) * n_in, n_in * sizeof(float));
            memcpy(sets[i]->output[s], data + xs + ((size_t)i * samples + s) * n_out, n_out * sizeof(float));
        }
    }
    float *mse = malloc((size_t)n * sizeof *mse);
    double t0 = now();
    for (int i = 0; i < n; i++) mse[i] = fann_train_epoch(nets[i], sets[i]);
    double first = now() - t0;
    FILE *f = fopen(argv[5], "wb");
    if (!f || fwrite(mse, sizeof *mse, (size_t)n, f) != (size_t)n) { fprintf(stderr, "cannot write %s\n", argv[5]); return 2; }
    fclose(f);
    double *seconds = malloc((size_t)repeats * sizeof *seconds);
    for (int r = 0; r < repeats; r++) {
        t0 = now();
        for (int i = 0; i < n; i++) fann_train_epoch(nets[i], sets[i]);
        seconds[r] = now() - t0;
    }
    printf("{\"first\": %.9f, ", first);
    print_seconds(seconds, repeats);
    printf("}\n");
    for (int i = 0; i < n; i++) {
        fann_destroy_train(sets[i]);
        fann_destroy(nets[i]);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && strcmp(argv[1], "train") == 0) return cmd_train(argv + 2);
    if (argc >= 6 && strcmp(argv[1], "forward") == 0) return cmd_forward(argc - 2, argv + 2);
    if (argc >= 8 && strcmp(argv[1], "pop_epoch") == 0) return cmd_pop_epoch(argv + 2);
    fprintf(stderr, "usage: fann_bench train|forward|pop_epoch ... (see the comment at the top)\n");
    return 2;
}
