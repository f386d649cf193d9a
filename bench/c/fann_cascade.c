/* C FANN's Cascade2 over many seeds, for bench/cascade.py: one JSON object per seed on stdout.
 *
 *   fann_cascade <file.train> <rprop|quickprop> <output activation id> <max_neurons> <desired_error>
 *                <first_seed> <seeds>
 *
 * Each seed: fann_create_shortcut(2, n_in, n_out) with the output activation given, the training
 * algorithm given, every other setting at FANN's default; srand(seed) and
 * fann_randomize_weights(-0.1, 0.1) after the create (which reseeds rand() from /dev/urandom), so
 * the initial weights and the candidates' draws follow from the seed; then
 * fann_cascadetrain_on_data, and fann_test_data on the training file. Printed: the test MSE and
 * bit fails, fann_get_MSE of the last output-training epoch, the hidden neurons added, the total
 * epochs at the last callback (before the final output training), the seconds
 * fann_cascadetrain_on_data took, and fann_get_MSE after each round's output training.
 *
 * Links against Debian's libfloatfann (libfann-dev 2.2.0): gcc -O2 fann_cascade.c -lfloatfann -lm
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

static unsigned rounds, last_epochs;
static float round_mse[1024];

static int record_round(struct fann *ann, struct fann_train_data *data, unsigned max_neurons,
                        unsigned between, float desired_error, unsigned epochs) {
    (void)data, (void)max_neurons, (void)between, (void)desired_error;
    if (rounds < 1024) round_mse[rounds++] = fann_get_MSE(ann);
    last_epochs = epochs;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: fann_cascade file.train rprop|quickprop act_out max_neurons desired first_seed seeds\n");
        return 2;
    }
    struct fann_train_data *data = fann_read_train_from_file(argv[1]);
    if (!data) return 2;
    enum fann_train_enum algorithm = strcmp(argv[2], "rprop") == 0 ? FANN_TRAIN_RPROP : FANN_TRAIN_QUICKPROP;
    enum fann_activationfunc_enum act_out = (enum fann_activationfunc_enum)atoi(argv[3]);
    unsigned max_neurons = (unsigned)atoi(argv[4]);
    float desired = (float)atof(argv[5]);
    unsigned first = (unsigned)atoi(argv[6]), seeds = (unsigned)atoi(argv[7]);
    unsigned n_in = fann_num_input_train_data(data), n_out = fann_num_output_train_data(data);
    for (unsigned seed = first; seed < first + seeds; seed++) {
        struct fann *ann = fann_create_shortcut(2, n_in, n_out);
        fann_set_activation_function_output(ann, act_out);
        fann_set_training_algorithm(ann, algorithm);
        fann_set_callback(ann, record_round);
        srand(seed);
        fann_randomize_weights(ann, -0.1f, 0.1f);
        rounds = last_epochs = 0;
        double t0 = now();
        /* neurons_between_reports = 1: the callback sees every round, and the last total is kept */
        fann_cascadetrain_on_data(ann, data, max_neurons, 1, desired);
        double seconds = now() - t0;
        float train_mse = fann_get_MSE(ann);
        fann_reset_MSE(ann);
        float test_mse = fann_test_data(ann, data);
        printf("{\"seed\": %u, \"mse\": %.9g, \"bit_fail\": %u, \"train_mse\": %.9g, \"neurons\": %u, "
               "\"epochs_at_last_report\": %u, \"seconds\": %.6f, \"round_mse\": [",
               seed, test_mse, fann_get_bit_fail(ann), train_mse,
               fann_get_total_neurons(ann) - n_in - 1 - n_out, last_epochs, seconds);
        for (unsigned r = 0; r < rounds; r++) printf("%s%.9g", r ? ", " : "", round_mse[r]);
        printf("]}\n");
        fflush(stdout); /* one line per seed as it finishes: the caller shows progress */
        fann_destroy(ann);
    }
    fann_destroy_train(data);
    return 0;
}
