### Mluv.Me: every text the bot shows, in Russian.
### Plain text (the bot sends it without parse_mode): no HTML, user text needs no escaping.
### Numbers ($count, $words, $hour…) must be passed as int; the rest as str. Czech examples stay in Czech.
### Every key here exists in uk/bot.ftl with the same variables (tests/i18n/test_texts.py checks).

## Plural forms, for code that needs a counted noun on its own.

n-messages = { $count } { $count ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }
n-words = { $count } { $count ->
        [one] слово
        [few] слова
       *[many] слов
    }
n-days = { $count } { $count ->
        [one] день
        [few] дня
       *[many] дней
    }
n-stars = { $count } { $count ->
        [one] звезда
        [few] звезды
       *[many] звёзд
    }

## /start

start-welcome =
    Привет! 👋 Я Mluv и помогаю практиковать письменный чешский.
    Пиши мне по-чешски о чём угодно, а я отмечу ошибки, подскажу, где нужна диакритика (háčky a čárky), и покажу исправленный текст.
    Каждый день тебя ждёт небольшое задание, серия дней подряд и раз в неделю отчёт о прогрессе.
start-choose-language = На каком языке тебе удобнее получать подсказки?
start-choose-level = Какой у тебя уровень чешского?
level-beginner = 🌱 Начальный (A1–A2)
level-intermediate = 🌿 Средний (B1–B2)
level-advanced = 🌳 Продвинутый (C1–C2)
# $level: beginner, intermediate or advanced
start-done =
    Готово! Уровень: { $level ->
        [beginner] начальный
        [intermediate] средний
       *[advanced] продвинутый
    }.
    Напиши мне первое сообщение по-чешски, например: «Ahoj! Jmenuju se Anna a učím se česky.»
# /start from a learner who has already practised; $streak: their streak today in days (0: broken)
start-welcome-back =
    С возвращением! 👋 { $streak ->
        [0] Серия прервалась, но одно сообщение сегодня начнёт новую.
       *[other] 🔥 Серия: { $streak } { $streak ->
            [one] день
            [few] дня
           *[many] дней
        } подряд.
    }
    Пиши мне по-чешски о чём угодно, а я проверю текст. Прогресс: /stats, настройки: /settings.
# /report again with no new message since the report of the last 7 days (it is in the chat); $time: 27.11–03.12
report-sent-before = 📈 Отчёт за последние 7 дней ({ $time }) я уже прислал, он выше в чате. С тех пор новых сообщений не было: напиши что-нибудь по-чешски, и новый /report это учтёт.
# /settings: the Back button of every sub-menu, and the time zones the keyboard offers (the city)
btn-back = ↩️ Назад
tz-europe-prague = Прага
tz-europe-kyiv = Киев
tz-europe-moscow = Москва
tz-europe-warsaw = Варшава
tz-europe-berlin = Берлин
tz-europe-london = Лондон
tz-asia-almaty = Алматы
tz-america-new-york = Нью-Йорк

## Practice and feedback

feedback-empty = Не нашёл в сообщении ни одного слова 🤔 Напиши пару предложений по-чешски, например: «Dnes je krásný den.»
feedback-perfect = 🎉 Отлично! { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    } и ни одной ошибки. Так держать!
# $correctness: 0-100
feedback-header = 📝 Правильность: { $correctness }% ({ $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    })
# $items: lines made of feedback-diacritics-item
feedback-diacritics =
    ✏️ Диакритика ({ $count } { $count ->
        [one] исправление
        [few] исправления
       *[many] исправлений
    }):
    { $items }
feedback-diacritics-item = • { $original } → { $suggestion }
# $items: lines made of feedback-correction-item(-explained)
feedback-corrections =
    🔧 { $count } { $count ->
        [one] исправление
        [few] исправления
       *[many] исправлений
    }:
    { $items }
feedback-correction-item = • { $original } → { $suggestion }
feedback-correction-item-explained = • { $original } → { $suggestion }: { $explanation }
# $words: the unknown words, comma-separated
feedback-unknown-words = ❓ { $count ->
        [1] Это слово я не знаю
       *[other] Эти слова я не знаю
    }, проверь написание: { $words }
feedback-more = …и ещё { $count }
feedback-corrected-text =
    ✅ Исправленный текст:
    { $text }
feedback-comment = 💬 { $comment }

## Feedback that says what was checked; the offline rules explained by the learner's level (mluv/domain/feedback.py).
## Only a reviewer that checked grammar as a whole may say "no mistakes" (feedback-perfect); the others say
## what they found right. Practice messages that are not Czech (mluv/bot/handlers/practice.py).

# No correction, and grammar was not checked as a whole: what was found right, no claim of "no mistakes".
feedback-clean-rules = ✅ Правописание и диакритика в порядке; проверенные правила грамматики ошибок не нашли.
feedback-clean-spelling = ✅ Правописание и диакритика в порядке.
feedback-clean-diacritics = ✅ Ошибок в диакритике не нашёл.
# The last line of every feedback: what the reviewer checked (Review.checks).
feedback-checked-grammar = 🔍 Проверил диакритику, правописание и грамматику.
feedback-checked-rules = 🔍 Проверил диакритику, правописание и правила грамматики: падеж после предлога, dva/dvě и oba/obě, род прилагательного после je, формы být. Другие ошибки я пока не ищу.
feedback-checked-spelling = 🔍 Проверил диакритику и правописание, грамматику не проверял.
feedback-checked-diacritics = 🔍 Проверил диакритику и знакомы ли мне слова, грамматику не проверял.
# Under the diacritics list, for a beginner.
feedback-diacritics-note = Háček и čárka — часть буквы: e и ě, a и á — разные буквы, без них слово читается иначе или значит другое.
# An offline rule's correction explained: -beginner the rule in a sentence with the example, -intermediate a short hint.
# $original: the word that sets the rule (the preposition, the numeral, the noun, the pronoun); $text: the corrected example, e.g. do kina.
rule-preposition-genitive-beginner = после «{ $original }» нужен родительный падеж (2. pád, кого? чего?): { $text }
rule-preposition-genitive-intermediate = { $original } + 2. pád
rule-preposition-dative-beginner = после «{ $original }» нужен дательный падеж (3. pád, кому? чему?): { $text }
rule-preposition-dative-intermediate = { $original } + 3. pád
rule-preposition-accusative-beginner = после «{ $original }» здесь нужен винительный падеж (4. pád, кого? что?): { $text }
rule-preposition-accusative-intermediate = { $original } + 4. pád
rule-preposition-locative-beginner = «{ $original }», когда речь о месте или теме, требует предложного падежа (6. pád, о ком? о чём?): { $text }
rule-preposition-locative-intermediate = { $original } + 6. pád
rule-preposition-instrumental-beginner = после «{ $original }» нужен творительный падеж (7. pád, кем? чем?): { $text }
rule-preposition-instrumental-intermediate = { $original } + 7. pád
rule-numeral-masculine-beginner = dva и oba — с существительными мужского рода, dvě и obě — с женским и средним; здесь мужской род: { $text }
rule-numeral-masculine-intermediate = мужской род: dva/oba
rule-numeral-feminine-beginner = dvě и obě — с существительными женского и среднего рода, dva и oba — только с мужским; здесь женский род: { $text }
rule-numeral-feminine-intermediate = женский род: dvě/obě
rule-numeral-neuter-beginner = dvě и obě — с существительными женского и среднего рода, dva и oba — только с мужским; здесь средний род: { $text }
rule-numeral-neuter-intermediate = средний род: dvě/obě
rule-numeral-plural-beginner = после «{ $original }» существительное стоит в именительном падеже множественного числа: { $text }
rule-numeral-plural-intermediate = { $original } + 1. pád мн. ч.
rule-numeral-genitive-beginner = после «{ $original }» и больших чисел существительное стоит в родительном падеже множественного числа: { $text }
rule-numeral-genitive-intermediate = { $original } + 2. pád мн. ч.
rule-adjective-masculine-beginner = «{ $original }» — мужского рода, поэтому прилагательное после je тоже в мужском роде (-ý): { $text }
rule-adjective-masculine-intermediate = «{ $original }» — мужской род
rule-adjective-feminine-beginner = «{ $original }» — женского рода, поэтому прилагательное после je тоже в женском роде (-á): { $text }
rule-adjective-feminine-intermediate = «{ $original }» — женский род
rule-adjective-neuter-beginner = «{ $original }» — среднего рода, поэтому прилагательное после je тоже в среднем роде (-é): { $text }
rule-adjective-neuter-intermediate = «{ $original }» — средний род
rule-byt-form-beginner = být меняется по лицам: já jsem, ty jsi, on/ona/ono je, my jsme, vy jste, oni jsou; здесь: { $text }
rule-byt-form-intermediate = форма být для «{ $original }»
rule-spelling-beginner = такого слова нет в словаре; похоже, имелось в виду «{ $text }»
rule-spelling-intermediate = нет в словаре
rule-capitalisation-beginner = имена, города, страны и национальности пишутся с большой буквы (Praha, Petr, Čech, Ukrajinka): { $text }
rule-capitalisation-intermediate = с большой буквы
practice-blank = Сообщение пустое 🙂 Напиши одно-два предложения по-чешски, например: «Dnes je krásný den.»
practice-write-in-czech = Я проверяю только текст на чешском ✍️ Попробуй написать это по-чешски: ошибки не страшны, для этого я и нужен. Например: «Ahoj! Učím se česky a bydlím v Praze.»
practice-about-bot =
    Я Mluv, бот для практики письменного чешского. Пиши мне по-чешски о чём угодно, а я отвечу: отмечу ошибки в диакритике, написании и частые грамматические ошибки (падеж после предлога, dva/dvě, род прилагательного, формы být) и покажу исправленный текст.
    /stats — статистика за сегодня и серия дней
    /report — отчёт за последние 7 дней, включая сегодня
    /settings — напоминания, время, часовой пояс и язык подсказок
    /help — все команды

## /stats and /report

stats =
    📊 Сегодня: { $messages } { $messages ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }
    🔥 Серия: { $streak } { $streak ->
        [one] день
        [few] дня
       *[many] дней
    } подряд, рекорд: { $longest } { $longest ->
        [one] день
        [few] дня
       *[many] дней
    }
    🎯 Задание дня: { $done }/{ $goal } { $goal ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }
challenge-completed = 🎉 Задание дня выполнено: { $goal } { $goal ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    } за сегодня! Завтра будет новое.
stats-completed =
    📊 Сегодня: { $messages } { $messages ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }
    🔥 Серия: { $streak } { $streak ->
        [one] день
        [few] дня
       *[many] дней
    } подряд, рекорд: { $longest } { $longest ->
        [one] день
        [few] дня
       *[many] дней
    }
    🎯 Задание дня выполнено: { $goal } { $goal ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    } за сегодня!
stats-week = 📅 За 7 дней: { $messages } { $messages ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }
stats-week-correctness = 📅 За 7 дней: { $messages } { $messages ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }, правильность { $correctness }%
stats-stars = ⭐ Звёзды: { $stars }
stats-next-milestone = 🏁 Ещё { $left } { $left ->
        [one] день
        [few] дня
       *[many] дней
    } до серии в { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    }: +{ $stars } ★
stats-milestones-done = 🏁 Все награды за серии уже получены!
report-queued = 📈 Готовлю отчёт за последние 7 дней, включая сегодня, пришлю через минуту.

## /top

top-title = 🏆 Рейтинг недели: кто больше всех написал по-чешски за последние 7 дней
# One place; $rank: the place; $name: the first name; $words, $messages: already counted, e.g. 12 слов, 3 сообщения
top-line = { $rank }. { $name }: { $words }, { $messages }
top-line-you = 👉 { $rank }. { $name } (это ты): { $words }, { $messages }
top-no-name = Без имени
top-empty = 🏆 Рейтинг недели пока пуст: за последние 7 дней ещё никто не написал по-чешски.
top-not-yet = Тебя пока нет в рейтинге. Он обновляется раз в час: напиши что-нибудь по-чешски, и после обновления ты в нём появишься.
top-hidden = 🙈 Твоё имя не показывается в рейтинге. Вернуть его можно в /settings.

## /settings

# $reminders: on or off; $leaderboard: on (the name shown on /top) or off; $hour: 0-23 (int); $timezone: the localized zone, e.g. Прага (UTC+1); $language: ru or uk
settings-menu =
    ⚙️ Настройки
    🔔 Напоминания: { $reminders ->
        [on] включены
       *[off] выключены
    }
    🏆 Имя в рейтинге /top: { $leaderboard ->
        [on] показано
       *[off] скрыто
    }
    ⏰ Время напоминания: { NUMBER($hour, minimumIntegerDigits: 2) }:00
    🌍 Часовой пояс: { $timezone }
    🗣 Язык: { $language ->
        [uk] українська
       *[ru] русский
    }
settings-reminders-on = 🔔 Напоминания включены.
settings-reminders-off = 🔕 Напоминания выключены. Включить их снова можно в /settings.
settings-leaderboard-on = 🏆 Твоё имя снова будет в рейтинге /top (он обновляется раз в час).
settings-leaderboard-off = 🙈 Твоё имя больше не показывается в рейтинге /top. Вернуть его можно в /settings.
settings-hour-prompt = ⏰ Во сколько напоминать? Выбери час по своему часовому поясу.
settings-hour-set = ⏰ Буду напоминать в { NUMBER($hour, minimumIntegerDigits: 2) }:00.
settings-hour-invalid = Час должен быть числом от 0 до 23, например 18.
settings-timezone-prompt = 🌍 Выбери свой часовой пояс:
settings-timezone-set = 🌍 Часовой пояс: { $timezone }.
settings-timezone-invalid = Не знаю часового пояса «{ $timezone }». Выбери его кнопкой в списке.
settings-language-prompt = 🗣 Выбери язык подсказок:
settings-language-set = Готово! Теперь я пишу по-русски.

## /help and errors

help =
    ✍️ Mluv: практика письменного чешского.
    Просто пиши мне по-чешски, а я проверю текст и покажу ошибки.

    /start — начать заново и выбрать уровень
    /stats — статистика за сегодня и серия дней
    /report — отчёт за последние 7 дней, включая сегодня
    /top — рейтинг недели
    /settings — напоминания, время, часовой пояс и язык
    /help — эта справка
unknown-command = Не знаю такой команды 🤔 Все команды есть в /help.
unsupported-sticker = Классный стикер! 😄 Но проверять я умею только текст, напиши что-нибудь по-чешски.
unsupported-photo = 📷 Фото я пока не читаю. Опиши его по-чешски, это отличная практика!
unsupported-voice = 🎙 Голосовые я пока не понимаю. Напиши то же самое текстом по-чешски.
unsupported-other = Я понимаю только текст ✍️ Напиши что-нибудь по-чешски.
# $limit: the maximum number of characters
text-too-long = Сообщение слишком длинное 🙈 Максимум { $limit } { $limit ->
        [one] символ
        [few] символа
       *[many] символов
    }, раздели текст на части.
# $seconds: how long to wait
too-many-messages = Помедленнее 🙂 Слишком много сообщений подряд. Подожди { $seconds } { $seconds ->
        [one] секунду
        [few] секунды
       *[many] секунд
    }, и продолжим.
error-generic = Ой, что-то пошло не так 😕 Попробуй ещё раз чуть позже.

## Notifications

streak-reminder = 🔥 Твоя серия: { $streak } { $streak ->
        [one] день
        [few] дня
       *[many] дней
    } подряд! Напиши сегодня хотя бы одно предложение по-чешски, чтобы её не потерять.
daily-reminder = ✍️ Время чешского! Как прошёл твой день? Напиши пару предложений, например: «Dnes jsem byl v práci a večer jsem vařil.»
daily-challenge-nudge = 🎯 Задание дня: { $done }/{ $goal }. Осталось { $left } { $left ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, ты почти у цели!
streak-milestone = 🏆 { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    } подряд, вот это серия! Держи награду: +{ $stars } { $stars ->
        [one] звезда
        [few] звезды
       *[many] звёзд
    } ⭐

## Admin

admin-only = 🔒 Извини, эта команда только для администраторов.
broadcast-usage =
    Рассылка: /broadcast [параметры] текст. Перед отправкой я покажу превью, кому она уйдёт и сколько получателей, и попрошу подтвердить.
    Параметры ставятся перед текстом, их можно сочетать:
    --lang ru или --lang uk — только учащимся с этим языком интерфейса;
    --active 7 — только тем, кто занимался за последние 7 дней;
    --channel ID — в канал из списка каналов вместо учащихся;
    --html — текст с HTML-разметкой Telegram (теги b, i, u, s, a, code, pre, blockquote, tg-spoiler): я проверю её до отправки, а без --html теги придут как есть.
    Например: /broadcast --lang uk --active 7 Ahoj! Zítra máme nové cvičení.
# $preview: the message as it will be sent; $format: post-format-*; $audience: audience-*; $count: recipients now
broadcast-confirm =
    📣 Превью рассылки ({ $format }):

    { $preview }

    Кому: { $audience }. Получателей сейчас: { $count }. Отправить?
# Under the preview of a plain text that contains tags
broadcast-html-hint = 💡 В тексте есть HTML-теги, но он уйдёт обычным текстом, и теги придут как есть. Чтобы Telegram применил форматирование, отправь /broadcast --html с тем же текстом.
# $text: what is wrong (one of post-*, schedule-error-*)
broadcast-invalid = ⚠️ Рассылка не создана: { $text }
post-format-plain = обычный текст
post-format-html = HTML
audience-everyone = все учащиеся
# $language: ru | uk
audience-language = учащиеся с { $language ->
        [uk] украинским
       *[ru] русским
    } языком интерфейса
# $days: learners active within this many days
audience-active = учащиеся, которые занимались за { $days ->
        [one] последний { $days } день
        [few] последние { $days } дня
       *[many] последние { $days } дней
    }
audience-language-active = учащиеся с { $language ->
        [uk] украинским
       *[ru] русским
    } языком интерфейса, которые занимались за { $days ->
        [one] последний { $days } день
        [few] последние { $days } дня
       *[many] последние { $days } дней
    }
# $title: the channel's title
audience-channel = канал «{ $title }»
broadcast-confirmed = ✅ Рассылка запущена: { $count } { $count ->
        [one] получатель
        [few] получателя
       *[many] получателей
    } в очереди.
# $rate: messages per second of a paid broadcast; $stars: its most cost in Telegram Stars; $count: recipients now
broadcast-paid-offer = ⚡ Или платная рассылка: до { $rate } сообщений в секунду вместо бесплатного лимита Telegram. Стоимость — не больше { $stars } ⭐: по 0,1 звезды за каждое из { $count } сообщений (по одному каждому получателю), списывается с баланса бота; заблокировавшим бота сообщение не уходит и не оплачивается.
# $count: recipients; $stars: the most it costs in Telegram Stars
broadcast-confirmed-paid = ✅ Платная рассылка запущена: получателей — { $count }, стоимость — не больше { $stars } ⭐.
broadcast-cancelled = ❌ Рассылка отменена.
# $count: characters in the whole text
broadcast-preview-shortened = ✂️ Превью сокращено, чтобы поместиться в одно сообщение; уйдёт весь текст ({ $count } { $count ->
        [one] символ
        [few] символа
       *[many] символов
    }).
# $count: minutes a draft can be confirmed
broadcast-expired = ⌛ Этот черновик старше { $count } { $count ->
        [one] минуты
        [few] минут
       *[many] минут
    } и уже не будет отправлен. Чтобы разослать его, отправь /broadcast с текстом ещё раз.
# $example: a valid date and time (tomorrow, 09:00 UTC)
schedule-usage =
    Запланировать пост: /schedule [параметры] когда текст. Время — по UTC:
    +30m, +2h, +1d — через 30 минут, 2 часа, 1 день;
    18:00 — сегодня в 18:00 UTC, а если это время уже прошло, то завтра;
    { $example } — дата и время.
    Параметры те же, что у /broadcast: --lang, --active, --channel, --html.
    Например: /schedule { $example } Dobré ráno!
    /schedule list — запланированные посты; /schedule cancel номер — отменить пост.
# $time: e.g. 2026-12-01 09:00; $id: the post's number; $audience: audience-*
schedule-done =
    🗓 Пост №{ $id } запланирован на { $time } UTC.
    Кому: { $audience }.
    Отменить: /schedule cancel { $id }
# $text: what is wrong (one of post-*, schedule-error-*)
schedule-invalid = ⚠️ Пост не запланирован: { $text }
schedule-list-empty = 🗓 Запланированных постов нет.
# $count: pending posts
schedule-list-header = 🗓 Запланированные посты, время по UTC (всего { $count }):
# $id: number; $time: send time (UTC); $audience: audience-*; $format: post-format-*; $preview: the text's beginning
schedule-list-item = №{ $id } · { $time } · { $audience } · { $format }: { $preview }
# $count: posts not shown
schedule-list-more = …и ещё { $count } (показаны ближайшие).
schedule-list-footer = Отменить: /schedule cancel номер
schedule-cancel-usage = Укажи номер поста: /schedule cancel номер (номера есть в /schedule list).
schedule-cancelled = ❌ Пост №{ $id } отменён и не будет отправлен.
schedule-cancel-missing = Поста №{ $id } нет среди запланированных: он уже отправлен, отменён или не существует. Список: /schedule list
schedule-error-zero-delay = задержка { $value } должна быть больше нуля.
schedule-error-time-of-day = «{ $value }» — не время суток: часы от 0 до 23, минуты от 0 до 59.
schedule-error-unreadable = не понимаю время «{ $value }».
schedule-error-past = { $time } UTC уже прошло. Укажи будущее время, например { $example }.
schedule-error-missing = нужны время и текст.
post-error-empty = в сообщении нет текста.
# $count: the text's length after the markup is parsed; $limit: 4096
post-error-too-long = текст слишком длинный: { $count } при максимуме { $limit } символов (считаются видимые символы, без разметки).
post-html-unknown-tag = Telegram не поддерживает тег «{ $tag }». Можно: b, strong, i, em, u, ins, s, strike, del, tg-spoiler, span class="tg-spoiler", a href, code, pre, blockquote.
post-html-inside-code = внутри code и pre форматирование не работает (тег «{ $tag }»).
post-html-unclosed-tag = тег «{ $tag }» не закрыт.
post-html-unexpected-close = закрывающий тег «/{ $tag }» без открывающего.
post-html-mismatched = теги перепутаны: ожидался закрывающий «/{ $expected }», а стоит «/{ $found }».
post-html-bare-lt = знак «<» не начинает тег: напиши его как &lt;
post-html-entity = Telegram не знает { $entity }: можно только &lt; &gt; &amp; &quot; и числовые, например &#8212;
post-html-missing-href = у ссылки (тег «a») нет адреса в href.
post-html-span = тег «span» можно использовать только как span class="tg-spoiler".
post-html-attribute = у тега «{ $tag }» не может быть атрибута «{ $attribute }».
post-option-unknown = неизвестный параметр { $option }. Есть: --lang, --active, --channel, --html.
post-option-missing = у параметра { $option } нет значения.
post-option-lang = язык «{ $value }» не подходит: укажи ru или uk.
post-option-active = --active { $value }: укажи число дней от 1 до { $limit }.
post-option-channel = канала «{ $value }» нет в списке каналов.
post-option-channel-alone = --channel нельзя сочетать с --lang и --active.
channel-error-title = у канала должно быть название.
jobs-summary =
    🛠 Фоновые задачи
    В очереди: { $queued }
    Выполняются: { $running }
    Отложены: { $scheduled }
    С ошибкой: { $failed }

## Buttons

btn-reminders-on = 🔔 Включить напоминания
btn-reminders-off = 🔕 Выключить напоминания
btn-leaderboard-on = 🏆 Показывать меня в рейтинге
btn-leaderboard-off = 🙈 Скрыть меня из рейтинга
btn-hour = ⏰ Время
btn-timezone = 🌍 Часовой пояс
btn-language = 🗣 Язык
btn-language-ru = Русский
btn-language-uk = Українська
btn-confirm = ✅ Подтвердить
# $stars: the paid broadcast's most cost in Telegram Stars
btn-confirm-paid = ⚡ Платно: { $stars } ⭐
btn-cancel = ❌ Отмена

## Bot menu (setMyCommands)

command-start = начать и выбрать уровень
command-stats = статистика за сегодня
command-report = отчёт за последние 7 дней
command-top = рейтинг недели
command-settings = напоминания, время, язык
command-help = справка

## Weekly report

# The caption of the weekly report's chart. $time: the week, e.g. 16.11–22.11
report-title = 📈 Твоя неделя в Mluv: { $time }
report-totals = ✍️ { $messages } { $messages ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    }, { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }
report-active-days = 📅 Дней с практикой: { $days } из 7
# $correctness: mean correctness of the week weighted by words, 0-100
report-correctness = 🎯 Средняя правильность: { $correctness }%
report-correctness-none = 🎯 Правильность появится, когда я проверю твои тексты.
report-streak = 🔥 Серия: { $streak } { $streak ->
        [one] день
        [few] дня
       *[many] дней
    } подряд, рекорд: { $longest } { $longest ->
        [one] день
        [few] дня
       *[many] дней
    }
report-empty = На этой неделе сообщений не было. Ничего страшного, начнём заново!
report-mistakes-title = 🔁 Частые ошибки:
# $count: how many times this week
report-mistake = • { $original } → { $suggestion } ×{ $count }
report-mistake-unknown = • { $original } ×{ $count } (незнакомое слово)
report-tips-title = 💡 Советы:
report-tip-start = • Начни с малого: одно-два предложения по-чешски в день, например о том, как прошёл день.
report-tip-regularity = • Практика была в { $days } { $days ->
        [one] день
        [few] дня
       *[many] дней
    } из 7. Лучше понемногу каждый день: регулярность важнее объёма.
# $words: this week's words; $count: last week's words
report-tip-comeback = • На этой неделе { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    } против { $count } на прошлой. Выдели 10 минут в день, и темп вернётся.
report-tip-diacritics = • Чаще всего ошибки в диакритике (háčky a čárky). Запомни: { $original } → { $suggestion }.
report-tip-accuracy = • Правильность { $correctness }%. Пиши предложения покороче и перечитывай исправления перед следующим сообщением.
# $words: the average number of words in a message
report-tip-longer = • В среднем { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    } в сообщении. Попробуй писать по 2–3 предложения: так быстрее растёт словарный запас.
# $count: unknown words this week
report-tip-unknown = • Некоторые слова я не узнал ({ $count }). Проверь их написание в словаре.
report-tip-challenge = • Попробуй выполнить задание дня: { $goal } { $goal ->
        [one] сообщение
        [few] сообщения
       *[many] сообщений
    } за день.
# $count: percent more words than last week
report-tip-growth = • На { $count }% больше слов, чем на прошлой неделе. Так держать!
report-tip-level-up = • { $correctness }% правильности: отличный результат! Пора усложнять: новые темы и тексты подлиннее.
report-tip-streak = • Серия { $streak } { $streak ->
        [one] день
        [few] дня
       *[many] дней
    } подряд. Не прерывай её!
report-tip-keep-going = • Продолжай в том же духе: немного чешского каждый день.
# The caption of /report: the last 7 local days, today included. $time: e.g. 27.11–03.12
report-recent-title = 📈 Последние 7 дней в Mluv: { $time }, включая сегодня
report-recent-empty = За последние 7 дней сообщений не было. Напиши что-нибудь по-чешски, и отчёт оживёт!
# $words: the words of the 7 days before the report's 7 days
report-recent-previous = 📊 За 7 дней до этого: { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    }
# As report-tip-comeback and report-tip-growth, for the last 7 days; $count: the 7 days before
report-tip-comeback-recent = • За эти 7 дней { $words } { $words ->
        [one] слово
        [few] слова
       *[many] слов
    } против { $count } за 7 дней до этого. Выдели 10 минут в день, и темп вернётся.
report-tip-growth-recent = • На { $count }% больше слов, чем за 7 дней до этого. Так держать!

## Weekly report chart (the picture: its title and the weekday under each bar)

chart-title = Слова за неделю
chart-title-recent = Слова за последние 7 дней
chart-weekday-mon = Пн
chart-weekday-tue = Вт
chart-weekday-wed = Ср
chart-weekday-thu = Чт
chart-weekday-fri = Пт
chart-weekday-sat = Сб
chart-weekday-sun = Вс
# Under today's bar of the last 7 days, instead of its date
chart-today = сегодня

## Broadcast progress

# The operator's message while a broadcast runs (edited in place). $done: recipients handled; $count: all
broadcast-progress-running = 📣 Рассылка идёт: { $done } из { $count }
broadcast-progress-completed = ✅ Рассылка завершена. Получателей: { $count }
broadcast-progress-cancelled = ⏹ Рассылка остановлена: обработано { $done } из { $count }
broadcast-progress-failed = ⚠️ Рассылка прервана после нескольких попыток: обработано { $done } из { $count }
# $limit: Telegram's text limit, 4096
broadcast-progress-rejected = ⚠️ Рассылка не отправлена: текст пустой или длиннее { $limit } символов.
# One line per counter under the heading above; $count: how many recipients
broadcast-progress-sent = ✅ Доставлено: { $count }
broadcast-progress-blocked = 🚫 Заблокировали бота: { $count }
broadcast-progress-errors = ⚠️ Ошибки: { $count }
broadcast-progress-unknown = ❔ Без подтверждения доставки: { $count }
