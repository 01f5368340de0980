# pipelines/album.mk: recordings → album, as Make targets on real files under work/ARTIST/.
#
#   make album [ARTIST=name] [AUDIO=dir] [PRESET=small] [TRAIN_MINUTES=20] [CLIPS=32]
#              [SECONDS=20] [SEED=1] [TITLES=file]
#   make album-quick        the same pipeline in a few minutes (the test suite runs it)
#   make reproduce ARTIST=name    rebuild an album from its record and compare with SHA256SUMS
#
# Each stage's program is a variable (WAVCHUNK, MULAW, QTRAIN, QSAMPLE, CURATE, ALBUMART,
# ALBUMPAGE) so that one program can be swapped for your own; rerunning after a change redoes
# only what depends on it. Stop after a stage with e.g. `make album-train`.

ARTIST        ?= asc-music
ifeq ($(ARTIST),asc-music)
AUDIO         ?= data/asc-music
endif
PRESET        ?= small
TRAIN_MINUTES ?= 20
# When TRAIN_STEPS is set it replaces TRAIN_MINUTES (make reproduce sets it from the record).
TRAIN_STEPS   ?=
CLIPS         ?= 32
SECONDS       ?= 20
SEED          ?= 1
TEMP          ?= 0.95
RATE          ?= 16000
TRACK_MINUTES ?= 4
TITLES        ?=
# Extra options of each stage, e.g. CURATE_FLAGS='--min-seconds 5'.
# Validation on 2% of the chunks every 50 steps: a few points on the curve without spending
# the training time on it.
TRAIN_FLAGS   ?= --checkpoint-every 50 --split 96,2,2
SAMPLE_FLAGS  ?=
CURATE_FLAGS  ?=
WORK          ?= work/$(ARTIST)
ALBUM         ?= album/$(ARTIST)

WAVCHUNK ?= $(BINDIR)/wavchunk
MULAW    ?= $(BINDIR)/mulaw
QTRAIN   ?= $(BINDIR)/qtrain
QSAMPLE  ?= $(BINDIR)/qsample
CURATE   ?= $(BINDIR)/curate
ALBUMART ?= $(BINDIR)/albumart
ALBUMPAGE ?= $(BINDIR)/albumpage

# Audio files of the artist, in a stable order.
AUDIO_FILES = $(sort $(wildcard $(addprefix $(AUDIO)/*.,wav flac ogg mp3 WAV FLAC OGG MP3 aiff opus)))
TRAIN_STOP  = $(if $(TRAIN_STEPS),--steps $(TRAIN_STEPS),--minutes $(TRAIN_MINUTES))
# The settings that make each stage's output what it is: written to WORK/.settings-STAGE
# (touched only when they change), so changing e.g. CLIPS reruns sampling, not training.
KEY_chunks = AUDIO=$(AUDIO) RATE=$(RATE)
KEY_train  = PRESET=$(PRESET) TRAIN=$(TRAIN_STOP) SEED=$(SEED) $(TRAIN_FLAGS)
KEY_sample = CLIPS=$(CLIPS) SECONDS=$(SECONDS) TEMP=$(TEMP) SEED=$(SEED) $(SAMPLE_FLAGS)
KEY_curate = TRACK_MINUTES=$(TRACK_MINUTES) $(CURATE_FLAGS)
KEY_album  = TITLES=$(TITLES) SEED=$(SEED) ARTIST=$(ARTIST)

# The stages' commands, as run and as recorded in the album ("how this was made"). Training
# is recorded by the number of steps it took, so that the record reruns it exactly.
CMD_CHUNKS = $(WAVCHUNK) -r $(RATE) -o $(WORK)/chunks.npy $(AUDIO_FILES)
CMD_CODES  = $(MULAW) -o $(WORK)/codes.npy $(WORK)/chunks.npy
CMD_TRAIN  = $(QTRAIN) --preset $(PRESET) $(TRAIN_STOP) $(TRAIN_FLAGS) --seed $(SEED) -r $(RATE) -o $(WORK)/run $(WORK)/codes.npy
CMD_SAMPLE = $(QSAMPLE) $(SAMPLE_FLAGS) -n $(CLIPS) -s $(SECONDS) -t $(TEMP) --seed $(SEED) -o $(WORK)/clips/ $(WORK)/run/best.safetensors
CMD_CURATE = $(CURATE) $(CURATE_FLAGS) --track-minutes $(TRACK_MINUTES) -o $(WORK)/tracks $(WORK)/clips/*.wav
CMD_TITLES = $(ALBUMPAGE) titles --seed $(SEED) -n $$(tail -n +2 $(WORK)/tracks/tracklist.tsv | cut -f1 | sort -un | wc -l) $(if $(TITLES),--titles $(TITLES)) > $(WORK)/titles.txt
CMD_COVER  = $(ALBUMART) --seed $(SEED) --artist "$(ARTIST)" --title "$$(head -1 $(WORK)/titles.txt)" --audio $(WORK)/tracks/*.flac -o $(WORK)/cover.png
CMD_BUILD  = $(ALBUMPAGE) build --artist "$(ARTIST)" --titles $(WORK)/titles.txt --tracks $(WORK)/tracks --run $(WORK)/run --cover $(WORK)/cover.png --commands $(WORK)/commands.txt --settings $(WORK)/settings.txt -o $(ALBUM)

.PHONY: album album-build album-quick album-chunks album-train album-sample album-curate reproduce FORCE
# The default artist's recordings are fetched first (make data), then the pipeline runs.
album:
	@$(if $(filter asc-music%,$(ARTIST)),$(MAKE) --no-print-directory data &&) \
	    $(MAKE) --no-print-directory album-build
album-build: $(ALBUM)/SHA256SUMS
	@echo "album: $(ALBUM)/index.html" >&2

album-chunks: $(WORK)/codes.npy
album-train: $(WORK)/run/best.safetensors
album-sample: $(WORK)/clips/.done
album-curate: $(WORK)/tracks/tracklist.tsv

# A few minutes end to end: tiny model, short training, a handful of short clips. A model
# trained this little makes mostly noise, so curate is told to keep noise: this album tests
# the pipeline, not the music.
album-quick:
	@$(MAKE) --no-print-directory album ARTIST=$(ARTIST)-quick AUDIO=$(AUDIO) PRESET=tiny \
	    TRAIN_STEPS=$(or $(TRAIN_STEPS),40) CLIPS=$(if $(filter 32,$(CLIPS)),8,$(CLIPS)) \
	    SECONDS=$(if $(filter 20,$(SECONDS)),8,$(SECONDS)) TRACK_MINUTES=0.25 SEED=$(SEED) \
	    TRAIN_FLAGS='--checkpoint-every 20 --split 94,3,3' CURATE_FLAGS='--noise-fraction 1 --min-seconds 2'

$(WORK)/.settings-%: FORCE
	@mkdir -p $(@D)
	@echo '$(KEY_$*)' > $@.new
	@if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

$(WORK)/chunks.npy: $(AUDIO_FILES) $(WAVCHUNK) $(WORK)/.settings-chunks | $(DEPSTAMP)
	@test -n "$(AUDIO)" || { echo "album: ARTIST=$(ARTIST) needs AUDIO=folder of recordings" >&2; exit 1; }
	@test -n "$(AUDIO_FILES)" || { echo "album: $(AUDIO): no audio files (wav, flac, ogg, mp3)" >&2; exit 1; }
	$(CMD_CHUNKS)

$(WORK)/codes.npy: $(WORK)/chunks.npy $(MULAW)
	$(CMD_CODES)

$(WORK)/run/best.safetensors: $(WORK)/codes.npy $(QTRAIN) $(WORK)/.settings-train
	rm -rf $(WORK)/run
	$(CMD_TRAIN)

$(WORK)/clips/.done: $(WORK)/run/best.safetensors $(QSAMPLE) $(WORK)/.settings-sample
	rm -rf $(WORK)/clips
	$(CMD_SAMPLE)
	@touch $@

$(WORK)/tracks/tracklist.tsv: $(WORK)/clips/.done $(CURATE) $(WORK)/.settings-curate
	rm -rf $(WORK)/tracks
	$(CMD_CURATE)

# Titles, cover and the album itself. The record of settings and commands is written first;
# albumpage assembles the album beside its place and renames it in when whole.
$(ALBUM)/SHA256SUMS: $(WORK)/tracks/tracklist.tsv $(ALBUMART) $(ALBUMPAGE) $(TITLES) $(WORK)/.settings-album
	$(CMD_TITLES)
	$(CMD_COVER)
	@steps=$$(tail -1 $(WORK)/run/log.tsv | cut -f1); \
	printf '%s\n' "ARTIST=$(ARTIST)" "AUDIO=$(AUDIO)" "PRESET=$(PRESET)" "TRAIN_STEPS=$$steps" \
	    "CLIPS=$(CLIPS)" "SECONDS=$(SECONDS)" "SEED=$(SEED)" "TEMP=$(TEMP)" "RATE=$(RATE)" \
	    "TRACK_MINUTES=$(TRACK_MINUTES)" "TITLES=$(TITLES)" "TRAIN_FLAGS=$(TRAIN_FLAGS)" \
	    "SAMPLE_FLAGS=$(SAMPLE_FLAGS)" "CURATE_FLAGS=$(CURATE_FLAGS)" > $(WORK)/settings.txt; \
	printf '%s\n' 'make album $(if $(filter asc-music,$(ARTIST)),,ARTIST=$(ARTIST) AUDIO=$(AUDIO) )PRESET=$(PRESET) TRAIN_STEPS='"$$steps"' CLIPS=$(CLIPS) SECONDS=$(SECONDS) SEED=$(SEED)' \
	    'which runs:' '$(CMD_CHUNKS)' '$(CMD_CODES)' \
	    '$(subst $(TRAIN_STOP),--steps @STEPS@,$(CMD_TRAIN))' '$(CMD_SAMPLE)' '$(CMD_CURATE)' \
	    '$(CMD_TITLES)' '$(CMD_COVER)' '$(CMD_BUILD)' \
	    | sed "s/@STEPS@/$$steps/" > $(WORK)/commands.txt
	$(CMD_BUILD)

# Rebuild the album from what it records (settings, with the exact number of training steps)
# in a scratch copy of this tree, then compare every file listed in SHA256SUMS.
reproduce:
	@sh pipelines/reproduce.sh '$(ALBUM)'
