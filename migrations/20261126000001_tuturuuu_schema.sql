-- The mirror of Tuturuuu's own schema: every table the background jobs read or write, built
-- from the facts in docs/real-schema.json (types and enum labels, nullability, defaults,
-- checks, unique keys, indexes, foreign keys, triggers, row-level security), so tests and the
-- local stack run against what production has and nothing more (design §5).
-- tests/tests/migrations.rs compares this database's catalog with those facts; what is
-- deliberately left out (columns needing extensions, triggers of the web app's features,
-- foreign keys to tables outside the jobs' reach) is listed with its reason in
-- cli/src/real_schema.rs.
--
-- On Tuturuuu's own database (where `public.workspaces` already exists) this migration does
-- nothing at all: it never adds indexes or replaces functions in the production schema. On any
-- other database it builds the mirror; a second run finds it built and does nothing.

DO $mirror$
BEGIN
IF to_regclass('public.workspaces') IS NOT NULL THEN
    RAISE NOTICE 'Tuturuuu schema present: the local mirror is not created';
    RETURN;
END IF;

CREATE SCHEMA IF NOT EXISTS private;
CREATE SCHEMA IF NOT EXISTS auth;

-- Supabase's auth.uid(): the signed-in user of a request, NULL for the jobs (no request).
CREATE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE
AS $fn$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $fn$;

-- The per-column text limits production enforces on nearly every table, with its SQLSTATE
-- (22001) and message shape. The trigger names each limited column and its limits as
-- arguments (column, characters or '' for a json column, bytes). Like production's, it turns
-- the row into JSON, skips values an UPDATE leaves unchanged, and fires for every row an
-- INSERT proposes (also those ON CONFLICT then leaves alone) and every row COPY writes.
CREATE FUNCTION public.enforce_strict_text_field_limits() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb;
    i integer := 0;
    field text;
    max_chars integer;
    max_bytes integer;
    value jsonb;
    text_value text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        old_row := to_jsonb(OLD);
    END IF;
    WHILE i < TG_NARGS LOOP
        field := TG_ARGV[i];
        max_chars := nullif(TG_ARGV[i + 1], '')::integer;
        max_bytes := TG_ARGV[i + 2]::integer;
        i := i + 3;
        value := new_row -> field;
        CONTINUE WHEN value IS NULL OR value = 'null'::jsonb;
        CONTINUE WHEN old_row IS NOT NULL AND (old_row -> field) = value;
        IF max_chars IS NULL THEN
            IF octet_length(value::text) > max_bytes THEN
                RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = format(
                    'PAYLOAD_FIELD_BYTES_EXCEEDED: %s.%s exceeds %s bytes', TG_TABLE_NAME, field, max_bytes);
            END IF;
        ELSE
            text_value := new_row ->> field;
            IF char_length(text_value) > max_chars THEN
                RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = format(
                    'TEXT_FIELD_LENGTH_EXCEEDED: %s.%s exceeds %s characters', TG_TABLE_NAME, field, max_chars);
            END IF;
            IF octet_length(text_value) > max_bytes THEN
                RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = format(
                    'TEXT_FIELD_BYTES_EXCEEDED: %s.%s exceeds %s bytes', TG_TABLE_NAME, field, max_bytes);
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END
$fn$;

-- The updated_at triggers production has on these tables, under their production names.
CREATE FUNCTION public.update_updated_at_column() RETURNS trigger
LANGUAGE plpgsql
AS $fn$ BEGIN NEW.updated_at := now(); RETURN NEW; END $fn$;
CREATE FUNCTION public.update_calendar_connections_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $fn$ BEGIN NEW.updated_at := now(); RETURN NEW; END $fn$;
CREATE FUNCTION public.update_task_calendar_events_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $fn$ BEGIN NEW.updated_at := now(); RETURN NEW; END $fn$;
CREATE FUNCTION public.update_workspace_encryption_keys_updated_at() RETURNS trigger
LANGUAGE plpgsql
AS $fn$ BEGIN NEW.updated_at := now(); RETURN NEW; END $fn$;

-- The web app's event colours (a foreign key target).
CREATE TABLE public.calendar_event_colors (value text PRIMARY KEY);
INSERT INTO public.calendar_event_colors (value)
VALUES ('RED'), ('BLUE'), ('GREEN'), ('YELLOW'), ('ORANGE'), ('PURPLE'), ('PINK'), ('INDIGO'), ('CYAN'), ('GRAY');

-- Enumerated types, labels in production's order.
CREATE TYPE public.calendar_hour_type AS ENUM ('WORK', 'PERSONAL', 'MEETING');
CREATE TYPE public.calendar_hours AS ENUM ('work_hours', 'personal_hours', 'meeting_hours');
CREATE TYPE public.calendar_provider AS ENUM ('tuturuuu', 'google', 'microsoft');
CREATE TYPE public.calendar_scheduling_source AS ENUM ('manual', 'task', 'habit');
CREATE TYPE public.estimation_type AS ENUM ('exponential', 'fibonacci', 'linear', 't-shirt');
CREATE TYPE public.habit_frequency AS ENUM ('daily', 'weekly', 'monthly', 'yearly', 'custom');
CREATE TYPE public.monthly_recurrence_type AS ENUM ('day_of_month', 'day_of_week');
CREATE TYPE public.platform_icon AS ENUM (
    'AArrowDown', 'AArrowUp', 'ALargeSmall', 'Accessibility', 'Activity', 'AirVent', 'Airplay',
    'AlarmClock', 'AlarmClockCheck', 'AlarmClockMinus', 'AlarmClockOff', 'AlarmClockPlus',
    'AlarmSmoke', 'Album', 'AlignCenterHorizontal', 'AlignCenterVertical',
    'AlignEndHorizontal', 'AlignEndVertical', 'AlignHorizontalDistributeCenter',
    'AlignHorizontalDistributeEnd', 'AlignHorizontalDistributeStart',
    'AlignHorizontalJustifyCenter', 'AlignHorizontalJustifyEnd', 'AlignHorizontalJustifyStart',
    'AlignHorizontalSpaceAround', 'AlignHorizontalSpaceBetween', 'AlignStartHorizontal',
    'AlignStartVertical', 'AlignVerticalDistributeCenter', 'AlignVerticalDistributeEnd',
    'AlignVerticalDistributeStart', 'AlignVerticalJustifyCenter', 'AlignVerticalJustifyEnd',
    'AlignVerticalJustifyStart', 'AlignVerticalSpaceAround', 'AlignVerticalSpaceBetween',
    'Ambulance', 'Ampersand', 'Ampersands', 'Amphora', 'Anchor', 'Angry', 'Annoyed', 'Antenna',
    'Anvil', 'Aperture', 'AppWindow', 'AppWindowMac', 'Apple', 'Archive', 'ArchiveRestore',
    'ArchiveX', 'Armchair', 'ArrowBigDown', 'ArrowBigDownDash', 'ArrowBigLeft',
    'ArrowBigLeftDash', 'ArrowBigRight', 'ArrowBigRightDash', 'ArrowBigUp', 'ArrowBigUpDash',
    'ArrowDown', 'ArrowDown01', 'ArrowDown10', 'ArrowDownAZ', 'ArrowDownFromLine',
    'ArrowDownLeft', 'ArrowDownNarrowWide', 'ArrowDownRight', 'ArrowDownToDot',
    'ArrowDownToLine', 'ArrowDownUp', 'ArrowDownWideNarrow', 'ArrowDownZA', 'ArrowLeft',
    'ArrowLeftFromLine', 'ArrowLeftRight', 'ArrowLeftToLine', 'ArrowRight',
    'ArrowRightFromLine', 'ArrowRightLeft', 'ArrowRightToLine', 'ArrowUp', 'ArrowUp01',
    'ArrowUp10', 'ArrowUpAZ', 'ArrowUpDown', 'ArrowUpFromDot', 'ArrowUpFromLine',
    'ArrowUpLeft', 'ArrowUpNarrowWide', 'ArrowUpRight', 'ArrowUpToLine', 'ArrowUpWideNarrow',
    'ArrowUpZA', 'ArrowsUpFromLine', 'Asterisk', 'AtSign', 'Atom', 'AudioLines',
    'AudioWaveform', 'Award', 'Axe', 'Axis3d', 'Baby', 'Backpack', 'Badge', 'BadgeAlert',
    'BadgeCent', 'BadgeCheck', 'BadgeDollarSign', 'BadgeEuro', 'BadgeIndianRupee', 'BadgeInfo',
    'BadgeJapaneseYen', 'BadgeMinus', 'BadgePercent', 'BadgePlus', 'BadgePoundSterling',
    'BadgeQuestionMark', 'BadgeRussianRuble', 'BadgeSwissFranc', 'BadgeTurkishLira', 'BadgeX',
    'BaggageClaim', 'Balloon', 'Ban', 'Banana', 'Bandage', 'Banknote', 'BanknoteArrowDown',
    'BanknoteArrowUp', 'BanknoteX', 'Barcode', 'Barrel', 'Baseline', 'Bath', 'Battery',
    'BatteryCharging', 'BatteryFull', 'BatteryLow', 'BatteryMedium', 'BatteryPlus',
    'BatteryWarning', 'Beaker', 'Bean', 'BeanOff', 'Bed', 'BedDouble', 'BedSingle', 'Beef',
    'Beer', 'BeerOff', 'Bell', 'BellDot', 'BellElectric', 'BellMinus', 'BellOff', 'BellPlus',
    'BellRing', 'BetweenHorizontalEnd', 'BetweenHorizontalStart', 'BetweenVerticalEnd',
    'BetweenVerticalStart', 'BicepsFlexed', 'Bike', 'Binary', 'Binoculars', 'Biohazard',
    'Bird', 'Birdhouse', 'Bitcoin', 'Blend', 'Blinds', 'Blocks', 'Bluetooth',
    'BluetoothConnected', 'BluetoothOff', 'BluetoothSearching', 'Bold', 'Bolt', 'Bomb', 'Bone',
    'Book', 'BookA', 'BookAlert', 'BookAudio', 'BookCheck', 'BookCopy', 'BookDashed',
    'BookDown', 'BookHeadphones', 'BookHeart', 'BookImage', 'BookKey', 'BookLock',
    'BookMarked', 'BookMinus', 'BookOpen', 'BookOpenCheck', 'BookOpenText', 'BookPlus',
    'BookSearch', 'BookText', 'BookType', 'BookUp', 'BookUp2', 'BookUser', 'BookX', 'Bookmark',
    'BookmarkCheck', 'BookmarkMinus', 'BookmarkPlus', 'BookmarkX', 'BoomBox', 'Bot',
    'BotMessageSquare', 'BotOff', 'BottleWine', 'BowArrow', 'Box', 'Boxes', 'Braces',
    'Brackets', 'Brain', 'BrainCircuit', 'BrainCog', 'BrickWall', 'BrickWallFire',
    'BrickWallShield', 'Briefcase', 'BriefcaseBusiness', 'BriefcaseConveyorBelt',
    'BriefcaseMedical', 'BringToFront', 'Brush', 'BrushCleaning', 'Bubbles', 'Bug', 'BugOff',
    'BugPlay', 'Building', 'Building2', 'Bus', 'BusFront', 'Cable', 'CableCar', 'Cake',
    'CakeSlice', 'Calculator', 'Calendar', 'Calendar1', 'CalendarArrowDown', 'CalendarArrowUp',
    'CalendarCheck', 'CalendarCheck2', 'CalendarClock', 'CalendarCog', 'CalendarDays',
    'CalendarFold', 'CalendarHeart', 'CalendarMinus', 'CalendarMinus2', 'CalendarOff',
    'CalendarPlus', 'CalendarPlus2', 'CalendarRange', 'CalendarSearch', 'CalendarSync',
    'CalendarX', 'CalendarX2', 'Calendars', 'Camera', 'CameraOff', 'Candy', 'CandyCane',
    'CandyOff', 'Cannabis', 'CannabisOff', 'Captions', 'CaptionsOff', 'Car', 'CarFront',
    'CarTaxiFront', 'Caravan', 'CardSim', 'Carrot', 'CaseLower', 'CaseSensitive', 'CaseUpper',
    'CassetteTape', 'Cast', 'Castle', 'Cat', 'Cctv', 'ChartArea', 'ChartBar', 'ChartBarBig',
    'ChartBarDecreasing', 'ChartBarIncreasing', 'ChartBarStacked', 'ChartCandlestick',
    'ChartColumn', 'ChartColumnBig', 'ChartColumnDecreasing', 'ChartColumnIncreasing',
    'ChartColumnStacked', 'ChartGantt', 'ChartLine', 'ChartNetwork', 'ChartNoAxesColumn',
    'ChartNoAxesColumnDecreasing', 'ChartNoAxesColumnIncreasing', 'ChartNoAxesCombined',
    'ChartNoAxesGantt', 'ChartPie', 'ChartScatter', 'ChartSpline', 'Check', 'CheckCheck',
    'CheckLine', 'ChefHat', 'Cherry', 'ChessBishop', 'ChessKing', 'ChessKnight', 'ChessPawn',
    'ChessQueen', 'ChessRook', 'ChevronDown', 'ChevronFirst', 'ChevronLast', 'ChevronLeft',
    'ChevronRight', 'ChevronUp', 'ChevronsDown', 'ChevronsDownUp', 'ChevronsLeft',
    'ChevronsLeftRight', 'ChevronsLeftRightEllipsis', 'ChevronsRight', 'ChevronsRightLeft',
    'ChevronsUp', 'ChevronsUpDown', 'Chromium', 'Church', 'Cigarette', 'CigaretteOff',
    'Circle', 'CircleAlert', 'CircleArrowDown', 'CircleArrowLeft', 'CircleArrowOutDownLeft',
    'CircleArrowOutDownRight', 'CircleArrowOutUpLeft', 'CircleArrowOutUpRight',
    'CircleArrowRight', 'CircleArrowUp', 'CircleCheck', 'CircleCheckBig', 'CircleChevronDown',
    'CircleChevronLeft', 'CircleChevronRight', 'CircleChevronUp', 'CircleDashed',
    'CircleDivide', 'CircleDollarSign', 'CircleDot', 'CircleDotDashed', 'CircleEllipsis',
    'CircleEqual', 'CircleFadingArrowUp', 'CircleFadingPlus', 'CircleGauge', 'CircleMinus',
    'CircleOff', 'CircleParking', 'CircleParkingOff', 'CirclePause', 'CirclePercent',
    'CirclePile', 'CirclePlay', 'CirclePlus', 'CirclePoundSterling', 'CirclePower',
    'CircleQuestionMark', 'CircleSlash', 'CircleSlash2', 'CircleSmall', 'CircleStar',
    'CircleStop', 'CircleUser', 'CircleUserRound', 'CircleX', 'CircuitBoard', 'Citrus',
    'Clapperboard', 'Clipboard', 'ClipboardCheck', 'ClipboardClock', 'ClipboardCopy',
    'ClipboardList', 'ClipboardMinus', 'ClipboardPaste', 'ClipboardPen', 'ClipboardPenLine',
    'ClipboardPlus', 'ClipboardType', 'ClipboardX', 'Clock', 'Clock1', 'Clock10', 'Clock11',
    'Clock12', 'Clock2', 'Clock3', 'Clock4', 'Clock5', 'Clock6', 'Clock7', 'Clock8', 'Clock9',
    'ClockAlert', 'ClockArrowDown', 'ClockArrowUp', 'ClockCheck', 'ClockFading', 'ClockPlus',
    'ClosedCaption', 'Cloud', 'CloudAlert', 'CloudBackup', 'CloudCheck', 'CloudCog',
    'CloudDownload', 'CloudDrizzle', 'CloudFog', 'CloudHail', 'CloudLightning', 'CloudMoon',
    'CloudMoonRain', 'CloudOff', 'CloudRain', 'CloudRainWind', 'CloudSnow', 'CloudSun',
    'CloudSunRain', 'CloudSync', 'CloudUpload', 'Cloudy', 'Clover', 'Club', 'Code', 'CodeXml',
    'Codepen', 'Codesandbox', 'Coffee', 'Cog', 'Coins', 'Columns2', 'Columns3', 'Columns3Cog',
    'Columns4', 'Combine', 'Command', 'Compass', 'Component', 'Computer', 'ConciergeBell',
    'Cone', 'Construction', 'Contact', 'ContactRound', 'Container', 'Contrast', 'Cookie',
    'CookingPot', 'Copy', 'CopyCheck', 'CopyMinus', 'CopyPlus', 'CopySlash', 'CopyX',
    'Copyleft', 'Copyright', 'CornerDownLeft', 'CornerDownRight', 'CornerLeftDown',
    'CornerLeftUp', 'CornerRightDown', 'CornerRightUp', 'CornerUpLeft', 'CornerUpRight', 'Cpu',
    'CreativeCommons', 'CreditCard', 'Croissant', 'Crop', 'Cross', 'Crosshair', 'Crown',
    'Cuboid', 'CupSoda', 'Currency', 'Cylinder', 'Dam', 'Database', 'DatabaseBackup',
    'DatabaseZap', 'DecimalsArrowLeft', 'DecimalsArrowRight', 'Delete', 'Dessert', 'Diameter',
    'Diamond', 'DiamondMinus', 'DiamondPercent', 'DiamondPlus', 'Dice1', 'Dice2', 'Dice3',
    'Dice4', 'Dice5', 'Dice6', 'Dices', 'Diff', 'Disc', 'Disc2', 'Disc3', 'DiscAlbum',
    'Divide', 'Dna', 'DnaOff', 'Dock', 'Dog', 'DollarSign', 'Donut', 'DoorClosed',
    'DoorClosedLocked', 'DoorOpen', 'Dot', 'Download', 'DraftingCompass', 'Drama', 'Dribbble',
    'Drill', 'Drone', 'Droplet', 'DropletOff', 'Droplets', 'Drum', 'Drumstick', 'Dumbbell',
    'Ear', 'EarOff', 'Earth', 'EarthLock', 'Eclipse', 'Egg', 'EggFried', 'EggOff', 'Ellipsis',
    'EllipsisVertical', 'Equal', 'EqualApproximately', 'EqualNot', 'Eraser', 'EthernetPort',
    'Euro', 'EvCharger', 'Expand', 'ExternalLink', 'Eye', 'EyeClosed', 'EyeOff', 'Facebook',
    'Factory', 'Fan', 'FastForward', 'Feather', 'Fence', 'FerrisWheel', 'Figma', 'File',
    'FileArchive', 'FileAxis3d', 'FileBadge', 'FileBox', 'FileBraces', 'FileBracesCorner',
    'FileChartColumn', 'FileChartColumnIncreasing', 'FileChartLine', 'FileChartPie',
    'FileCheck', 'FileCheckCorner', 'FileClock', 'FileCode', 'FileCodeCorner', 'FileCog',
    'FileDiff', 'FileDigit', 'FileDown', 'FileExclamationPoint', 'FileHeadphone', 'FileHeart',
    'FileImage', 'FileInput', 'FileKey', 'FileLock', 'FileMinus', 'FileMinusCorner',
    'FileMusic', 'FileOutput', 'FilePen', 'FilePenLine', 'FilePlay', 'FilePlus',
    'FilePlusCorner', 'FileQuestionMark', 'FileScan', 'FileSearch', 'FileSearchCorner',
    'FileSignal', 'FileSliders', 'FileSpreadsheet', 'FileStack', 'FileSymlink', 'FileTerminal',
    'FileText', 'FileType', 'FileTypeCorner', 'FileUp', 'FileUser', 'FileVideoCamera',
    'FileVolume', 'FileX', 'FileXCorner', 'Files', 'Film', 'FingerprintPattern',
    'FireExtinguisher', 'Fish', 'FishOff', 'FishSymbol', 'FishingHook', 'Flag', 'FlagOff',
    'FlagTriangleLeft', 'FlagTriangleRight', 'Flame', 'FlameKindling', 'Flashlight',
    'FlashlightOff', 'FlaskConical', 'FlaskConicalOff', 'FlaskRound', 'FlipHorizontal',
    'FlipHorizontal2', 'FlipVertical', 'FlipVertical2', 'Flower', 'Flower2', 'Focus',
    'FoldHorizontal', 'FoldVertical', 'Folder', 'FolderArchive', 'FolderCheck', 'FolderClock',
    'FolderClosed', 'FolderCode', 'FolderCog', 'FolderDot', 'FolderDown', 'FolderGit',
    'FolderGit2', 'FolderHeart', 'FolderInput', 'FolderKanban', 'FolderKey', 'FolderLock',
    'FolderMinus', 'FolderOpen', 'FolderOpenDot', 'FolderOutput', 'FolderPen', 'FolderPlus',
    'FolderRoot', 'FolderSearch', 'FolderSearch2', 'FolderSymlink', 'FolderSync', 'FolderTree',
    'FolderUp', 'FolderX', 'Folders', 'Footprints', 'Forklift', 'Form', 'Forward', 'Frame',
    'Framer', 'Frown', 'Fuel', 'Fullscreen', 'Funnel', 'FunnelPlus', 'FunnelX',
    'GalleryHorizontal', 'GalleryHorizontalEnd', 'GalleryThumbnails', 'GalleryVertical',
    'GalleryVerticalEnd', 'Gamepad', 'Gamepad2', 'GamepadDirectional', 'Gauge', 'Gavel', 'Gem',
    'GeorgianLari', 'Ghost', 'Gift', 'GitBranch', 'GitBranchMinus', 'GitBranchPlus',
    'GitCommitHorizontal', 'GitCommitVertical', 'GitCompare', 'GitCompareArrows', 'GitFork',
    'GitGraph', 'GitMerge', 'GitPullRequest', 'GitPullRequestArrow', 'GitPullRequestClosed',
    'GitPullRequestCreate', 'GitPullRequestCreateArrow', 'GitPullRequestDraft', 'Github',
    'Gitlab', 'GlassWater', 'Glasses', 'Globe', 'GlobeLock', 'GlobeX', 'Goal', 'Gpu',
    'GraduationCap', 'Grape', 'Grid2x2', 'Grid2x2Check', 'Grid2x2Plus', 'Grid2x2X', 'Grid3x2',
    'Grid3x3', 'Grip', 'GripHorizontal', 'GripVertical', 'Group', 'Guitar', 'Ham', 'Hamburger',
    'Hammer', 'Hand', 'HandCoins', 'HandFist', 'HandGrab', 'HandHeart', 'HandHelping',
    'HandMetal', 'HandPlatter', 'Handbag', 'Handshake', 'HardDrive', 'HardDriveDownload',
    'HardDriveUpload', 'HardHat', 'Hash', 'HatGlasses', 'Haze', 'Hd', 'HdmiPort', 'Heading',
    'Heading1', 'Heading2', 'Heading3', 'Heading4', 'Heading5', 'Heading6', 'HeadphoneOff',
    'Headphones', 'Headset', 'Heart', 'HeartCrack', 'HeartHandshake', 'HeartMinus', 'HeartOff',
    'HeartPlus', 'HeartPulse', 'Heater', 'Helicopter', 'Hexagon', 'Highlighter', 'History',
    'Hop', 'HopOff', 'Hospital', 'Hotel', 'Hourglass', 'House', 'HouseHeart', 'HousePlug',
    'HousePlus', 'HouseWifi', 'IceCreamBowl', 'IceCreamCone', 'IdCard', 'IdCardLanyard',
    'Image', 'ImageDown', 'ImageMinus', 'ImageOff', 'ImagePlay', 'ImagePlus', 'ImageUp',
    'ImageUpscale', 'Images', 'Import', 'Inbox', 'IndianRupee', 'Infinity', 'Info',
    'InspectionPanel', 'Instagram', 'Italic', 'IterationCcw', 'IterationCw', 'JapaneseYen',
    'Joystick', 'Kanban', 'Kayak', 'Key', 'KeyRound', 'KeySquare', 'Keyboard', 'KeyboardMusic',
    'KeyboardOff', 'Lamp', 'LampCeiling', 'LampDesk', 'LampFloor', 'LampWallDown',
    'LampWallUp', 'LandPlot', 'Landmark', 'Languages', 'Laptop', 'LaptopMinimal',
    'LaptopMinimalCheck', 'Lasso', 'LassoSelect', 'Laugh', 'Layers', 'Layers2', 'LayersPlus',
    'LayoutDashboard', 'LayoutGrid', 'LayoutList', 'LayoutPanelLeft', 'LayoutPanelTop',
    'LayoutTemplate', 'Leaf', 'LeafyGreen', 'Lectern', 'Library', 'LibraryBig', 'LifeBuoy',
    'Ligature', 'Lightbulb', 'LightbulbOff', 'LineSquiggle', 'Link', 'Link2', 'Link2Off',
    'Linkedin', 'List', 'ListCheck', 'ListChecks', 'ListChevronsDownUp', 'ListChevronsUpDown',
    'ListCollapse', 'ListEnd', 'ListFilter', 'ListFilterPlus', 'ListIndentDecrease',
    'ListIndentIncrease', 'ListMinus', 'ListMusic', 'ListOrdered', 'ListPlus', 'ListRestart',
    'ListStart', 'ListTodo', 'ListTree', 'ListVideo', 'ListX', 'Loader', 'LoaderCircle',
    'LoaderPinwheel', 'Locate', 'LocateFixed', 'LocateOff', 'Lock', 'LockKeyhole',
    'LockKeyholeOpen', 'LockOpen', 'LogIn', 'LogOut', 'Logs', 'Lollipop', 'Luggage', 'Magnet',
    'Mail', 'MailCheck', 'MailMinus', 'MailOpen', 'MailPlus', 'MailQuestionMark', 'MailSearch',
    'MailWarning', 'MailX', 'Mailbox', 'Mails', 'Map', 'MapMinus', 'MapPin', 'MapPinCheck',
    'MapPinCheckInside', 'MapPinHouse', 'MapPinMinus', 'MapPinMinusInside', 'MapPinOff',
    'MapPinPen', 'MapPinPlus', 'MapPinPlusInside', 'MapPinX', 'MapPinXInside', 'MapPinned',
    'MapPlus', 'Mars', 'MarsStroke', 'Martini', 'Maximize', 'Maximize2', 'Medal', 'Megaphone',
    'MegaphoneOff', 'Meh', 'MemoryStick', 'Menu', 'Merge', 'MessageCircle',
    'MessageCircleCode', 'MessageCircleDashed', 'MessageCircleHeart', 'MessageCircleMore',
    'MessageCircleOff', 'MessageCirclePlus', 'MessageCircleQuestionMark', 'MessageCircleReply',
    'MessageCircleWarning', 'MessageCircleX', 'MessageSquare', 'MessageSquareCode',
    'MessageSquareDashed', 'MessageSquareDiff', 'MessageSquareDot', 'MessageSquareHeart',
    'MessageSquareLock', 'MessageSquareMore', 'MessageSquareOff', 'MessageSquarePlus',
    'MessageSquareQuote', 'MessageSquareReply', 'MessageSquareShare', 'MessageSquareText',
    'MessageSquareWarning', 'MessageSquareX', 'MessagesSquare', 'Mic', 'MicOff', 'MicVocal',
    'Microchip', 'Microscope', 'Microwave', 'Milestone', 'Milk', 'MilkOff', 'Minimize',
    'Minimize2', 'Minus', 'Monitor', 'MonitorCheck', 'MonitorCloud', 'MonitorCog',
    'MonitorDot', 'MonitorDown', 'MonitorOff', 'MonitorPause', 'MonitorPlay',
    'MonitorSmartphone', 'MonitorSpeaker', 'MonitorStop', 'MonitorUp', 'MonitorX', 'Moon',
    'MoonStar', 'Motorbike', 'Mountain', 'MountainSnow', 'Mouse', 'MouseOff', 'MousePointer',
    'MousePointer2', 'MousePointer2Off', 'MousePointerBan', 'MousePointerClick', 'Move',
    'Move3d', 'MoveDiagonal', 'MoveDiagonal2', 'MoveDown', 'MoveDownLeft', 'MoveDownRight',
    'MoveHorizontal', 'MoveLeft', 'MoveRight', 'MoveUp', 'MoveUpLeft', 'MoveUpRight',
    'MoveVertical', 'Music', 'Music2', 'Music3', 'Music4', 'Navigation', 'Navigation2',
    'Navigation2Off', 'NavigationOff', 'Network', 'Newspaper', 'Nfc', 'NonBinary', 'Notebook',
    'NotebookPen', 'NotebookTabs', 'NotebookText', 'NotepadText', 'NotepadTextDashed', 'Nut',
    'NutOff', 'Octagon', 'OctagonAlert', 'OctagonMinus', 'OctagonPause', 'OctagonX', 'Omega',
    'Option', 'Orbit', 'Origami', 'Package', 'Package2', 'PackageCheck', 'PackageMinus',
    'PackageOpen', 'PackagePlus', 'PackageSearch', 'PackageX', 'PaintBucket', 'PaintRoller',
    'Paintbrush', 'PaintbrushVertical', 'Palette', 'Panda', 'PanelBottom', 'PanelBottomClose',
    'PanelBottomDashed', 'PanelBottomOpen', 'PanelLeft', 'PanelLeftClose', 'PanelLeftDashed',
    'PanelLeftOpen', 'PanelLeftRightDashed', 'PanelRight', 'PanelRightClose',
    'PanelRightDashed', 'PanelRightOpen', 'PanelTop', 'PanelTopBottomDashed', 'PanelTopClose',
    'PanelTopDashed', 'PanelTopOpen', 'PanelsLeftBottom', 'PanelsRightBottom', 'PanelsTopLeft',
    'Paperclip', 'Parentheses', 'ParkingMeter', 'PartyPopper', 'Pause', 'PawPrint', 'PcCase',
    'Pen', 'PenLine', 'PenOff', 'PenTool', 'Pencil', 'PencilLine', 'PencilOff', 'PencilRuler',
    'Pentagon', 'Percent', 'PersonStanding', 'PhilippinePeso', 'Phone', 'PhoneCall',
    'PhoneForwarded', 'PhoneIncoming', 'PhoneMissed', 'PhoneOff', 'PhoneOutgoing', 'Pi',
    'Piano', 'Pickaxe', 'PictureInPicture', 'PictureInPicture2', 'PiggyBank', 'Pilcrow',
    'PilcrowLeft', 'PilcrowRight', 'Pill', 'PillBottle', 'Pin', 'PinOff', 'Pipette', 'Pizza',
    'Plane', 'PlaneLanding', 'PlaneTakeoff', 'Play', 'Plug', 'Plug2', 'PlugZap', 'Plus',
    'Pocket', 'PocketKnife', 'Podcast', 'Pointer', 'PointerOff', 'Popcorn', 'Popsicle',
    'PoundSterling', 'Power', 'PowerOff', 'Presentation', 'Printer', 'PrinterCheck',
    'PrinterX', 'Projector', 'Proportions', 'Puzzle', 'Pyramid', 'QrCode', 'Quote', 'Rabbit',
    'Radar', 'Radiation', 'Radical', 'Radio', 'RadioReceiver', 'RadioTower', 'Radius',
    'RailSymbol', 'Rainbow', 'Rat', 'Ratio', 'Receipt', 'ReceiptCent', 'ReceiptEuro',
    'ReceiptIndianRupee', 'ReceiptJapaneseYen', 'ReceiptPoundSterling', 'ReceiptRussianRuble',
    'ReceiptSwissFranc', 'ReceiptText', 'ReceiptTurkishLira', 'RectangleCircle',
    'RectangleEllipsis', 'RectangleGoggles', 'RectangleHorizontal', 'RectangleVertical',
    'Recycle', 'Redo', 'Redo2', 'RedoDot', 'RefreshCcw', 'RefreshCcwDot', 'RefreshCw',
    'RefreshCwOff', 'Refrigerator', 'Regex', 'RemoveFormatting', 'Repeat', 'Repeat1',
    'Repeat2', 'Replace', 'ReplaceAll', 'Reply', 'ReplyAll', 'Rewind', 'Ribbon', 'Rocket',
    'RockingChair', 'RollerCoaster', 'Rose', 'Rotate3d', 'RotateCcw', 'RotateCcwKey',
    'RotateCcwSquare', 'RotateCw', 'RotateCwSquare', 'Route', 'RouteOff', 'Router', 'Rows2',
    'Rows3', 'Rows4', 'Rss', 'Ruler', 'RulerDimensionLine', 'RussianRuble', 'Sailboat',
    'Salad', 'Sandwich', 'Satellite', 'SatelliteDish', 'SaudiRiyal', 'Save', 'SaveAll',
    'SaveOff', 'Scale', 'Scale3d', 'Scaling', 'Scan', 'ScanBarcode', 'ScanEye', 'ScanFace',
    'ScanHeart', 'ScanLine', 'ScanQrCode', 'ScanSearch', 'ScanText', 'School', 'Scissors',
    'ScissorsLineDashed', 'Scooter', 'ScreenShare', 'ScreenShareOff', 'Scroll', 'ScrollText',
    'Search', 'SearchAlert', 'SearchCheck', 'SearchCode', 'SearchSlash', 'SearchX', 'Section',
    'Send', 'SendHorizontal', 'SendToBack', 'SeparatorHorizontal', 'SeparatorVertical',
    'Server', 'ServerCog', 'ServerCrash', 'ServerOff', 'Settings', 'Settings2', 'Shapes',
    'Share', 'Share2', 'Sheet', 'Shell', 'Shield', 'ShieldAlert', 'ShieldBan', 'ShieldCheck',
    'ShieldEllipsis', 'ShieldHalf', 'ShieldMinus', 'ShieldOff', 'ShieldPlus',
    'ShieldQuestionMark', 'ShieldUser', 'ShieldX', 'Ship', 'ShipWheel', 'Shirt', 'ShoppingBag',
    'ShoppingBasket', 'ShoppingCart', 'Shovel', 'ShowerHead', 'Shredder', 'Shrimp', 'Shrink',
    'Shrub', 'Shuffle', 'Sigma', 'Signal', 'SignalHigh', 'SignalLow', 'SignalMedium',
    'SignalZero', 'Signature', 'Signpost', 'SignpostBig', 'Siren', 'SkipBack', 'SkipForward',
    'Skull', 'Slack', 'Slash', 'Slice', 'SlidersHorizontal', 'SlidersVertical', 'Smartphone',
    'SmartphoneCharging', 'SmartphoneNfc', 'Smile', 'SmilePlus', 'Snail', 'Snowflake',
    'SoapDispenserDroplet', 'Sofa', 'SolarPanel', 'Soup', 'Space', 'Spade', 'Sparkle',
    'Sparkles', 'Speaker', 'Speech', 'SpellCheck', 'SpellCheck2', 'Spline', 'SplinePointer',
    'Split', 'Spool', 'Spotlight', 'SprayCan', 'Sprout', 'Square', 'SquareActivity',
    'SquareArrowDown', 'SquareArrowDownLeft', 'SquareArrowDownRight', 'SquareArrowLeft',
    'SquareArrowOutDownLeft', 'SquareArrowOutDownRight', 'SquareArrowOutUpLeft',
    'SquareArrowOutUpRight', 'SquareArrowRight', 'SquareArrowUp', 'SquareArrowUpLeft',
    'SquareArrowUpRight', 'SquareAsterisk', 'SquareBottomDashedScissors', 'SquareChartGantt',
    'SquareCheck', 'SquareCheckBig', 'SquareChevronDown', 'SquareChevronLeft',
    'SquareChevronRight', 'SquareChevronUp', 'SquareCode', 'SquareDashed',
    'SquareDashedBottom', 'SquareDashedBottomCode', 'SquareDashedKanban',
    'SquareDashedMousePointer', 'SquareDashedTopSolid', 'SquareDivide', 'SquareDot',
    'SquareEqual', 'SquareFunction', 'SquareKanban', 'SquareLibrary', 'SquareM', 'SquareMenu',
    'SquareMinus', 'SquareMousePointer', 'SquareParking', 'SquareParkingOff', 'SquarePause',
    'SquarePen', 'SquarePercent', 'SquarePi', 'SquarePilcrow', 'SquarePlay', 'SquarePlus',
    'SquarePower', 'SquareRadical', 'SquareRoundCorner', 'SquareScissors', 'SquareSigma',
    'SquareSlash', 'SquareSplitHorizontal', 'SquareSplitVertical', 'SquareSquare',
    'SquareStack', 'SquareStar', 'SquareStop', 'SquareTerminal', 'SquareUser',
    'SquareUserRound', 'SquareX', 'SquaresExclude', 'SquaresIntersect', 'SquaresSubtract',
    'SquaresUnite', 'Squircle', 'SquircleDashed', 'Squirrel', 'Stamp', 'Star', 'StarHalf',
    'StarOff', 'StepBack', 'StepForward', 'Stethoscope', 'Sticker', 'StickyNote', 'Stone',
    'Store', 'StretchHorizontal', 'StretchVertical', 'Strikethrough', 'Subscript', 'Sun',
    'SunDim', 'SunMedium', 'SunMoon', 'SunSnow', 'Sunrise', 'Sunset', 'Superscript',
    'SwatchBook', 'SwissFranc', 'SwitchCamera', 'Sword', 'Swords', 'Syringe', 'Table',
    'Table2', 'TableCellsMerge', 'TableCellsSplit', 'TableColumnsSplit', 'TableOfContents',
    'TableProperties', 'TableRowsSplit', 'Tablet', 'TabletSmartphone', 'Tablets', 'Tag',
    'Tags', 'Tally1', 'Tally2', 'Tally3', 'Tally4', 'Tally5', 'Tangent', 'Target', 'Telescope',
    'Tent', 'TentTree', 'Terminal', 'TestTube', 'TestTubeDiagonal', 'TestTubes',
    'TextAlignCenter', 'TextAlignEnd', 'TextAlignJustify', 'TextAlignStart', 'TextCursor',
    'TextCursorInput', 'TextInitial', 'TextQuote', 'TextSearch', 'TextSelect', 'TextWrap',
    'Theater', 'Thermometer', 'ThermometerSnowflake', 'ThermometerSun', 'ThumbsDown',
    'ThumbsUp', 'Ticket', 'TicketCheck', 'TicketMinus', 'TicketPercent', 'TicketPlus',
    'TicketSlash', 'TicketX', 'Tickets', 'TicketsPlane', 'Timer', 'TimerOff', 'TimerReset',
    'ToggleLeft', 'ToggleRight', 'Toilet', 'ToolCase', 'Toolbox', 'Tornado', 'Torus',
    'Touchpad', 'TouchpadOff', 'TowerControl', 'ToyBrick', 'Tractor', 'TrafficCone',
    'TrainFront', 'TrainFrontTunnel', 'TrainTrack', 'TramFront', 'Transgender', 'Trash',
    'Trash2', 'TreeDeciduous', 'TreePalm', 'TreePine', 'Trees', 'Trello', 'TrendingDown',
    'TrendingUp', 'TrendingUpDown', 'Triangle', 'TriangleAlert', 'TriangleDashed',
    'TriangleRight', 'Trophy', 'Truck', 'TruckElectric', 'TurkishLira', 'Turntable', 'Turtle',
    'Tv', 'TvMinimal', 'TvMinimalPlay', 'Twitch', 'Twitter', 'Type', 'TypeOutline', 'Umbrella',
    'UmbrellaOff', 'Underline', 'Undo', 'Undo2', 'UndoDot', 'UnfoldHorizontal',
    'UnfoldVertical', 'Ungroup', 'University', 'Unlink', 'Unlink2', 'Unplug', 'Upload', 'Usb',
    'User', 'UserCheck', 'UserCog', 'UserLock', 'UserMinus', 'UserPen', 'UserPlus',
    'UserRound', 'UserRoundCheck', 'UserRoundCog', 'UserRoundMinus', 'UserRoundPen',
    'UserRoundPlus', 'UserRoundSearch', 'UserRoundX', 'UserSearch', 'UserStar', 'UserX',
    'Users', 'UsersRound', 'Utensils', 'UtensilsCrossed', 'UtilityPole', 'Van', 'Variable',
    'Vault', 'VectorSquare', 'Vegan', 'VenetianMask', 'Venus', 'VenusAndMars', 'Vibrate',
    'VibrateOff', 'Video', 'VideoOff', 'Videotape', 'View', 'Voicemail', 'Volleyball',
    'Volume', 'Volume1', 'Volume2', 'VolumeOff', 'VolumeX', 'Vote', 'Wallet', 'WalletCards',
    'WalletMinimal', 'Wallpaper', 'Wand', 'WandSparkles', 'Warehouse', 'WashingMachine',
    'Watch', 'Waves', 'WavesArrowDown', 'WavesArrowUp', 'WavesLadder', 'Waypoints', 'Webcam',
    'Webhook', 'WebhookOff', 'Weight', 'WeightTilde', 'Wheat', 'WheatOff', 'WholeWord', 'Wifi',
    'WifiCog', 'WifiHigh', 'WifiLow', 'WifiOff', 'WifiPen', 'WifiSync', 'WifiZero', 'Wind',
    'WindArrowDown', 'Wine', 'WineOff', 'Workflow', 'Worm', 'Wrench', 'X', 'Youtube', 'Zap',
    'ZapOff', 'ZoomIn', 'ZoomOut'
);
CREATE TYPE public.task_board_status AS ENUM ('not_started', 'active', 'review', 'done', 'closed', 'documents');
CREATE TYPE public.task_priority AS ENUM ('low', 'normal', 'high', 'critical');
CREATE TYPE public.time_of_day_preference AS ENUM ('morning', 'afternoon', 'evening', 'night');
CREATE TYPE public.workspace_calendar_type AS ENUM ('primary', 'tasks', 'habits', 'custom');

CREATE TABLE public.workspaces (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text,
    created_at timestamp with time zone DEFAULT now(),
    deleted boolean DEFAULT false,
    handle text,
    avatar_url text,
    logo_url text,
    creator_id uuid DEFAULT auth.uid() NOT NULL,
    personal boolean DEFAULT false NOT NULL,
    timezone text DEFAULT 'auto'::text,
    first_day_of_week text DEFAULT 'auto'::text,
    energy_profile text,
    scheduling_settings jsonb DEFAULT '{"min_buffer": 5, "preferred_buffer": 15}'::jsonb
);
CREATE UNIQUE INDEX one_personal_workspace_per_creator ON public.workspaces USING btree (creator_id) WHERE (personal = true);
ALTER TABLE public.workspaces ADD CONSTRAINT orgs_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX workspaces_handle_key ON public.workspaces USING btree (handle);
CREATE UNIQUE INDEX workspaces_handle_key1 ON public.workspaces USING btree (handle);

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    display_name text,
    created_at timestamp with time zone DEFAULT now(),
    avatar_url text,
    handle text,
    bio text
);
CREATE UNIQUE INDEX users_handle_key ON public.users USING btree (handle);
ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE TABLE public.workspace_calendar_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    title text DEFAULT ''::text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    start_at timestamp with time zone NOT NULL,
    end_at timestamp with time zone NOT NULL,
    color text,
    ws_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now(),
    locked boolean DEFAULT false NOT NULL,
    location text,
    google_event_id text,
    task_id uuid,
    google_calendar_id text,
    is_encrypted boolean DEFAULT false NOT NULL,
    source_calendar_id uuid,
    external_calendar_id text,
    external_event_id text,
    provider public.calendar_provider DEFAULT 'tuturuuu'::calendar_provider,
    scheduling_source public.calendar_scheduling_source DEFAULT 'manual'::calendar_scheduling_source,
    scheduling_metadata jsonb,
    external_updated_at timestamp with time zone,
    last_synced_at timestamp with time zone,
    sync_status text DEFAULT 'local_only'::text NOT NULL,
    sync_error text
);
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT workspace_calendar_events_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX workspace_calendar_events_provider_external_key ON public.workspace_calendar_events USING btree (ws_id, provider, external_calendar_id, external_event_id);

CREATE TABLE public.calendar_auth_tokens (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    access_token text NOT NULL,
    refresh_token text NOT NULL,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    ws_id uuid NOT NULL,
    provider text DEFAULT 'google'::text NOT NULL,
    account_email text,
    account_name text,
    expires_at timestamp with time zone,
    is_active boolean DEFAULT true NOT NULL
);
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT calendar_auth_tokens_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX calendar_auth_tokens_user_ws_provider_email_key ON public.calendar_auth_tokens USING btree (user_id, ws_id, provider, account_email) WHERE (account_email IS NOT NULL);

CREATE TABLE public.calendar_connections (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    ws_id uuid NOT NULL,
    calendar_id text NOT NULL,
    calendar_name text NOT NULL,
    is_enabled boolean DEFAULT true NOT NULL,
    color text,
    created_at timestamp without time zone DEFAULT now() NOT NULL,
    updated_at timestamp without time zone DEFAULT now() NOT NULL,
    auth_token_id uuid,
    provider text DEFAULT 'google'::text NOT NULL,
    workspace_calendar_id uuid,
    access_role text DEFAULT 'writer'::text,
    sync_inbound_enabled boolean DEFAULT true NOT NULL,
    sync_outbound_enabled boolean DEFAULT false NOT NULL,
    sync_delete_enabled boolean DEFAULT true NOT NULL
);
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_connections_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX calendar_connections_ws_provider_calendar_legacy_key ON public.calendar_connections USING btree (ws_id, provider, calendar_id) WHERE (auth_token_id IS NULL);
CREATE UNIQUE INDEX calendar_connections_ws_provider_token_calendar_key ON public.calendar_connections USING btree (ws_id, provider, auth_token_id, calendar_id) WHERE (auth_token_id IS NOT NULL);

CREATE TABLE public.calendar_sync_states (
    ws_id uuid NOT NULL,
    calendar_id text DEFAULT 'primary'::text NOT NULL,
    sync_token text,
    last_synced_at timestamp with time zone DEFAULT now()
);
ALTER TABLE public.calendar_sync_states ADD CONSTRAINT calendar_sync_states_pkey PRIMARY KEY (ws_id, calendar_id);

CREATE TABLE public.calendar_sync_dashboard (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    ws_id uuid NOT NULL,
    triggered_by uuid NOT NULL,
    start_time timestamp with time zone,
    end_time timestamp with time zone,
    type text,
    source text,
    status text,
    inserted_events integer DEFAULT 0,
    updated_events integer DEFAULT 0,
    deleted_events integer DEFAULT 0,
    timing_google_api_fetch_ms integer,
    timing_token_operations_ms integer,
    timing_event_processing_ms integer,
    timing_database_writes_ms integer,
    timing_total_ms integer,
    google_api_calls_count integer DEFAULT 0,
    google_api_pages_fetched integer DEFAULT 0,
    google_api_retry_count integer DEFAULT 0,
    google_api_error_code text,
    events_fetched_total integer DEFAULT 0,
    events_filtered_out integer DEFAULT 0,
    batch_count integer DEFAULT 0,
    payload_size_bytes bigint,
    error_message text,
    error_type text,
    error_stack_trace text,
    failed_event_ids jsonb,
    calendar_ids_synced text[],
    calendar_connection_count integer DEFAULT 0,
    was_blocked_by_cooldown boolean DEFAULT false,
    cooldown_remaining_seconds integer,
    sync_token_used boolean DEFAULT false,
    date_range_start timestamp with time zone,
    date_range_end timestamp with time zone,
    triggered_from text
);
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT calendar_sync_dashboard_pkey PRIMARY KEY (id);

CREATE TABLE public.workspace_calendar_hour_settings (
    ws_id uuid NOT NULL,
    type public.calendar_hour_type NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    data jsonb NOT NULL
);
ALTER TABLE public.workspace_calendar_hour_settings ADD CONSTRAINT workspace_calendar_hour_settings_pkey PRIMARY KEY (ws_id, type);

CREATE TABLE public.workspace_habits (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    ws_id uuid NOT NULL,
    creator_id uuid,
    name text NOT NULL,
    description text,
    color text DEFAULT 'BLUE'::text,
    calendar_hours public.calendar_hours DEFAULT 'personal_hours'::calendar_hours,
    priority public.task_priority DEFAULT 'normal'::task_priority,
    duration_minutes integer DEFAULT 30 NOT NULL,
    min_duration_minutes integer,
    max_duration_minutes integer,
    ideal_time time without time zone,
    time_preference public.time_of_day_preference,
    frequency public.habit_frequency DEFAULT 'daily'::habit_frequency NOT NULL,
    recurrence_interval integer DEFAULT 1,
    days_of_week integer[],
    monthly_type public.monthly_recurrence_type,
    day_of_month integer,
    week_of_month integer,
    day_of_week_monthly integer,
    start_date date DEFAULT CURRENT_DATE NOT NULL,
    end_date date,
    is_active boolean DEFAULT true,
    auto_schedule boolean DEFAULT true,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    deleted_at timestamp with time zone,
    is_visible_in_calendar boolean DEFAULT true,
    is_splittable boolean DEFAULT false NOT NULL,
    min_instances_per_day integer,
    ideal_instances_per_day integer,
    max_instances_per_day integer,
    dependency_habit_id uuid,
    dependency_type text
);
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_pkey PRIMARY KEY (id);

CREATE TABLE public.habit_calendar_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    habit_id uuid NOT NULL,
    event_id uuid NOT NULL,
    occurrence_date date NOT NULL,
    completed boolean DEFAULT false,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    scheduling_reason text
);
CREATE UNIQUE INDEX habit_calendar_events_habit_id_event_id_key ON public.habit_calendar_events USING btree (habit_id, event_id);
ALTER TABLE public.habit_calendar_events ADD CONSTRAINT habit_calendar_events_pkey PRIMARY KEY (id);

CREATE TABLE public.habit_skipped_occurrences (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    ws_id uuid NOT NULL,
    habit_id uuid NOT NULL,
    occurrence_date date NOT NULL,
    created_by uuid,
    source_event_id uuid,
    created_at timestamp with time zone DEFAULT timezone('utc'::text, now()) NOT NULL,
    updated_at timestamp with time zone DEFAULT timezone('utc'::text, now()) NOT NULL,
    revoked_at timestamp with time zone
);
ALTER TABLE public.habit_skipped_occurrences ADD CONSTRAINT habit_skipped_occurrences_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX habit_skipped_occurrences_ws_id_habit_id_occurrence_date_key ON public.habit_skipped_occurrences USING btree (ws_id, habit_id, occurrence_date);

CREATE TABLE public.tasks (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now(),
    list_id uuid,
    completed boolean DEFAULT false,
    creator_id uuid DEFAULT auth.uid(),
    start_date timestamp with time zone,
    end_date timestamp with time zone,
    description text,
    priority public.task_priority DEFAULT 'normal'::task_priority,
    estimation_points smallint,
    fts tsvector GENERATED ALWAYS AS ((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::text)), 'A'::"char") || setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), 'B'::"char"))) STORED,
    sort_key bigint DEFAULT 1000000000,
    description_yjs_state smallint[],
    completed_at timestamp with time zone,
    closed_at timestamp with time zone,
    deleted_at timestamp with time zone,
    display_number integer,
    board_id uuid
);
CREATE UNIQUE INDEX idx_tasks_board_display_number ON public.tasks USING btree (board_id, display_number) WHERE (deleted_at IS NULL);
ALTER TABLE public.tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY (id);

CREATE TABLE public.task_lists (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text,
    archived boolean DEFAULT false,
    deleted boolean DEFAULT false,
    created_at timestamp with time zone DEFAULT now(),
    board_id uuid NOT NULL,
    creator_id uuid DEFAULT auth.uid(),
    status public.task_board_status DEFAULT 'not_started'::task_board_status,
    color text DEFAULT 'GRAY'::text,
    position integer DEFAULT 0
);
CREATE UNIQUE INDEX idx_task_lists_unique_board_normalized_name ON public.task_lists USING btree (board_id, lower(btrim(name))) WHERE (deleted = false);
ALTER TABLE public.task_lists ADD CONSTRAINT task_lists_pkey PRIMARY KEY (id);

CREATE TABLE public.workspace_boards (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text,
    created_at timestamp with time zone DEFAULT now(),
    creator_id uuid DEFAULT auth.uid(),
    ws_id uuid NOT NULL,
    template_id uuid,
    estimation_type public.estimation_type,
    extended_estimation boolean DEFAULT false NOT NULL,
    allow_zero_estimates boolean DEFAULT true NOT NULL,
    count_unestimated_issues boolean DEFAULT false NOT NULL,
    deleted_at timestamp with time zone,
    archived_at timestamp with time zone,
    ticket_prefix text,
    next_task_number integer DEFAULT 1 NOT NULL,
    icon public.platform_icon,
    default_list_id uuid,
    default_done_list_id uuid,
    default_closed_list_id uuid
);
CREATE UNIQUE INDEX idx_workspace_boards_unique_workspace_normalized_name ON public.workspace_boards USING btree (ws_id, lower(btrim(name))) WHERE (deleted_at IS NULL);
ALTER TABLE public.workspace_boards ADD CONSTRAINT task_boards_pkey PRIMARY KEY (id);

CREATE TABLE public.task_user_scheduling_settings (
    task_id uuid NOT NULL,
    user_id uuid NOT NULL,
    total_duration real,
    is_splittable boolean DEFAULT false NOT NULL,
    min_split_duration_minutes real,
    max_split_duration_minutes real,
    calendar_hours public.calendar_hours,
    auto_schedule boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE public.task_user_scheduling_settings ADD CONSTRAINT task_user_scheduling_settings_pkey PRIMARY KEY (task_id, user_id);

CREATE TABLE public.task_calendar_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    task_id uuid NOT NULL,
    event_id uuid NOT NULL,
    scheduled_minutes integer DEFAULT 0 NOT NULL,
    completed boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now(),
    scheduling_reason text
);
ALTER TABLE public.task_calendar_events ADD CONSTRAINT task_calendar_events_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX task_calendar_events_task_id_event_id_key ON public.task_calendar_events USING btree (task_id, event_id);

CREATE TABLE public.workspace_encryption_keys (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    ws_id uuid NOT NULL,
    encrypted_key text NOT NULL,
    key_version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE public.workspace_encryption_keys ADD CONSTRAINT workspace_encryption_keys_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX workspace_encryption_keys_ws_id_key ON public.workspace_encryption_keys USING btree (ws_id);

CREATE TABLE private.workspace_calendars (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    ws_id uuid NOT NULL,
    name text NOT NULL,
    description text,
    color text,
    calendar_type public.workspace_calendar_type DEFAULT 'custom'::workspace_calendar_type NOT NULL,
    is_system boolean DEFAULT false NOT NULL,
    is_enabled boolean DEFAULT true NOT NULL,
    position integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now(),
    updated_at timestamp with time zone DEFAULT now()
);
ALTER TABLE private.workspace_calendars ADD CONSTRAINT workspace_calendars_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX workspace_calendars_system_type_unique ON private.workspace_calendars USING btree (ws_id, calendar_type) WHERE (calendar_type = ANY (ARRAY['primary'::workspace_calendar_type, 'tasks'::workspace_calendar_type, 'habits'::workspace_calendar_type]));

CREATE TABLE private.calendar_user_workspace_preferences (
    user_id uuid NOT NULL,
    ws_id uuid NOT NULL,
    default_provider public.calendar_provider DEFAULT 'tuturuuu'::calendar_provider NOT NULL,
    default_workspace_calendar_id uuid,
    default_calendar_connection_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    inbound_sync_enabled boolean DEFAULT true NOT NULL,
    outbound_sync_enabled boolean DEFAULT false NOT NULL,
    conflict_policy text DEFAULT 'latest_write_wins'::text NOT NULL,
    default_outbound_calendar_connection_id uuid
);
ALTER TABLE private.calendar_user_workspace_preferences ADD CONSTRAINT calendar_user_workspace_preferences_pkey PRIMARY KEY (user_id, ws_id);

-- Checks (production added its text limits NOT VALID: they bind new and updated rows).
ALTER TABLE public.workspaces ADD CONSTRAINT avatar_url_strict_bytes_check CHECK ((octet_length(avatar_url) <= 2048)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT avatar_url_strict_length_check CHECK ((char_length(avatar_url) <= 2048)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT energy_profile_strict_bytes_check CHECK ((octet_length(energy_profile) <= 4000)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT energy_profile_strict_length_check CHECK ((char_length(energy_profile) <= 1000)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT first_day_of_week_strict_bytes_check CHECK ((octet_length(first_day_of_week) <= 4000)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT first_day_of_week_strict_length_check CHECK ((char_length(first_day_of_week) <= 1000)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT handle_strict_bytes_check CHECK ((octet_length(handle) <= 320)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT handle_strict_length_check CHECK ((char_length(handle) <= 80)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT logo_url_strict_bytes_check CHECK ((octet_length(logo_url) <= 2048)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT logo_url_strict_length_check CHECK ((char_length(logo_url) <= 2048)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 252)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 63)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT scheduling_settings_strict_payload_size_check CHECK ((octet_length((scheduling_settings)::text) <= 65536)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT timezone_strict_bytes_check CHECK ((octet_length(timezone) <= 256)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT timezone_strict_length_check CHECK ((char_length(timezone) <= 64)) NOT VALID;
ALTER TABLE public.workspaces ADD CONSTRAINT workspaces_first_day_of_week_check CHECK ((first_day_of_week = ANY (ARRAY['auto'::text, 'sunday'::text, 'monday'::text, 'saturday'::text])));
ALTER TABLE public.users ADD CONSTRAINT avatar_url_strict_bytes_check CHECK ((octet_length(avatar_url) <= 2048)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT avatar_url_strict_length_check CHECK ((char_length(avatar_url) <= 2048)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT bio_strict_bytes_check CHECK ((octet_length(bio) <= 640)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT bio_strict_length_check CHECK ((char_length(bio) <= 160)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT display_name_strict_bytes_check CHECK ((octet_length(display_name) <= 256)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT display_name_strict_length_check CHECK ((char_length(display_name) <= 64)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT handle_strict_bytes_check CHECK ((octet_length(handle) <= 320)) NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT handle_strict_length_check CHECK ((char_length(handle) <= 80)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT color_strict_bytes_check CHECK ((octet_length(color) <= 256)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT color_strict_length_check CHECK ((char_length(color) <= 64)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT description_strict_bytes_check CHECK ((octet_length(description) <= 40000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT description_strict_length_check CHECK ((char_length(description) <= 10000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT external_calendar_id_strict_bytes_check CHECK ((octet_length(external_calendar_id) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT external_calendar_id_strict_length_check CHECK ((char_length(external_calendar_id) <= 1000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT external_event_id_strict_bytes_check CHECK ((octet_length(external_event_id) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT external_event_id_strict_length_check CHECK ((char_length(external_event_id) <= 1000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT google_calendar_id_strict_bytes_check CHECK ((octet_length(google_calendar_id) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT google_calendar_id_strict_length_check CHECK ((char_length(google_calendar_id) <= 1000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT google_event_id_strict_bytes_check CHECK ((octet_length(google_event_id) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT google_event_id_strict_length_check CHECK ((char_length(google_event_id) <= 1000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT location_strict_bytes_check CHECK ((octet_length(location) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT location_strict_length_check CHECK ((char_length(location) <= 1000)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT scheduling_metadata_strict_payload_size_check CHECK ((octet_length((scheduling_metadata)::text) <= 16384)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT title_strict_bytes_check CHECK ((octet_length(title) <= 1020)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT title_strict_length_check CHECK ((char_length(title) <= 255)) NOT VALID;
ALTER TABLE public.workspace_calendar_events ADD CONSTRAINT workspace_calendar_events_sync_status_check CHECK ((sync_status = ANY (ARRAY['idle'::text, 'syncing'::text, 'synced'::text, 'failed'::text, 'conflict'::text, 'local_only'::text])));
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT access_token_strict_bytes_check CHECK ((octet_length(access_token) <= 4096)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT access_token_strict_length_check CHECK ((char_length(access_token) <= 2048)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT account_email_strict_bytes_check CHECK ((octet_length(account_email) <= 320)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT account_email_strict_length_check CHECK ((char_length(account_email) <= 320)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT account_name_strict_bytes_check CHECK ((octet_length(account_name) <= 512)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT account_name_strict_length_check CHECK ((char_length(account_name) <= 128)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT calendar_auth_tokens_provider_check CHECK ((provider = ANY (ARRAY['google'::text, 'microsoft'::text])));
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT provider_strict_bytes_check CHECK ((octet_length(provider) <= 256)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT provider_strict_length_check CHECK ((char_length(provider) <= 64)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT refresh_token_strict_bytes_check CHECK ((octet_length(refresh_token) <= 4096)) NOT VALID;
ALTER TABLE public.calendar_auth_tokens ADD CONSTRAINT refresh_token_strict_length_check CHECK ((char_length(refresh_token) <= 2048)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_connections_provider_check CHECK ((provider = ANY (ARRAY['google'::text, 'microsoft'::text])));
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_id_strict_bytes_check CHECK ((octet_length(calendar_id) <= 4000)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_id_strict_length_check CHECK ((char_length(calendar_id) <= 1000)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_name_strict_bytes_check CHECK ((octet_length(calendar_name) <= 512)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT calendar_name_strict_length_check CHECK ((char_length(calendar_name) <= 128)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT color_strict_bytes_check CHECK ((octet_length(color) <= 256)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT color_strict_length_check CHECK ((char_length(color) <= 64)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT provider_strict_bytes_check CHECK ((octet_length(provider) <= 256)) NOT VALID;
ALTER TABLE public.calendar_connections ADD CONSTRAINT provider_strict_length_check CHECK ((char_length(provider) <= 64)) NOT VALID;
ALTER TABLE public.calendar_sync_states ADD CONSTRAINT calendar_id_strict_bytes_check CHECK ((octet_length(calendar_id) <= 4000)) NOT VALID;
ALTER TABLE public.calendar_sync_states ADD CONSTRAINT calendar_id_strict_length_check CHECK ((char_length(calendar_id) <= 1000)) NOT VALID;
ALTER TABLE public.calendar_sync_states ADD CONSTRAINT sync_token_strict_bytes_check CHECK ((octet_length(sync_token) <= 4096)) NOT VALID;
ALTER TABLE public.calendar_sync_states ADD CONSTRAINT sync_token_strict_length_check CHECK ((char_length(sync_token) <= 2048)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT calendar_sync_dashboard_status_check CHECK ((status = ANY (ARRAY['completed'::text, 'failed'::text, 'running'::text])));
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT calendar_sync_dashboard_type_check CHECK ((type = ANY (ARRAY['active'::text, 'manual'::text, 'background'::text])));
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_message_strict_bytes_check CHECK ((octet_length(error_message) <= 2048)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_message_strict_length_check CHECK ((char_length(error_message) <= 512)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_stack_trace_strict_bytes_check CHECK ((octet_length(error_stack_trace) <= 4000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_stack_trace_strict_length_check CHECK ((char_length(error_stack_trace) <= 1000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_type_strict_bytes_check CHECK ((octet_length(error_type) <= 256)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT error_type_strict_length_check CHECK ((char_length(error_type) <= 64)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT failed_event_ids_strict_payload_size_check CHECK ((octet_length((failed_event_ids)::text) <= 8192)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT google_api_error_code_strict_bytes_check CHECK ((octet_length(google_api_error_code) <= 320)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT google_api_error_code_strict_length_check CHECK ((char_length(google_api_error_code) <= 80)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT source_strict_bytes_check CHECK ((octet_length(source) <= 4000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT source_strict_length_check CHECK ((char_length(source) <= 1000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT status_strict_bytes_check CHECK ((octet_length(status) <= 256)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT status_strict_length_check CHECK ((char_length(status) <= 64)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT triggered_from_strict_bytes_check CHECK ((octet_length(triggered_from) <= 4000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT triggered_from_strict_length_check CHECK ((char_length(triggered_from) <= 1000)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT type_strict_bytes_check CHECK ((octet_length(type) <= 256)) NOT VALID;
ALTER TABLE public.calendar_sync_dashboard ADD CONSTRAINT type_strict_length_check CHECK ((char_length(type) <= 64)) NOT VALID;
ALTER TABLE public.workspace_calendar_hour_settings ADD CONSTRAINT data_strict_payload_size_check CHECK ((octet_length((data)::text) <= 16384)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT color_strict_bytes_check CHECK ((octet_length(color) <= 256)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT color_strict_length_check CHECK ((char_length(color) <= 64)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT dependency_type_strict_bytes_check CHECK ((octet_length(dependency_type) <= 256)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT dependency_type_strict_length_check CHECK ((char_length(dependency_type) <= 64)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT description_strict_bytes_check CHECK ((octet_length(description) <= 2048)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT description_strict_length_check CHECK ((char_length(description) <= 512)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 512)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 128)) NOT VALID;
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_dependency_not_self_check CHECK (((dependency_habit_id IS NULL) OR (dependency_habit_id <> id)));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_dependency_pair_check CHECK ((((dependency_habit_id IS NULL) AND (dependency_type IS NULL)) OR ((dependency_habit_id IS NOT NULL) AND (dependency_type IS NOT NULL))));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_dependency_type_check CHECK (((dependency_type IS NULL) OR (dependency_type = ANY (ARRAY['after'::text, 'before'::text]))));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_ideal_instances_per_day_check CHECK (((ideal_instances_per_day IS NULL) OR (ideal_instances_per_day >= 1)));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_instance_bounds_check CHECK ((((min_instances_per_day IS NULL) OR (ideal_instances_per_day IS NULL) OR (min_instances_per_day <= ideal_instances_per_day)) AND ((ideal_instances_per_day IS NULL) OR (max_instances_per_day IS NULL) OR (ideal_instances_per_day <= max_instances_per_day)) AND ((min_instances_per_day IS NULL) OR (max_instances_per_day IS NULL) OR (min_instances_per_day <= max_instances_per_day))));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_max_instances_per_day_check CHECK (((max_instances_per_day IS NULL) OR (max_instances_per_day >= 1)));
ALTER TABLE public.workspace_habits ADD CONSTRAINT workspace_habits_min_instances_per_day_check CHECK (((min_instances_per_day IS NULL) OR (min_instances_per_day >= 1)));
ALTER TABLE public.habit_calendar_events ADD CONSTRAINT scheduling_reason_strict_bytes_check CHECK ((octet_length(scheduling_reason) <= 2048)) NOT VALID;
ALTER TABLE public.habit_calendar_events ADD CONSTRAINT scheduling_reason_strict_length_check CHECK ((char_length(scheduling_reason) <= 512)) NOT VALID;
ALTER TABLE public.tasks ADD CONSTRAINT description_strict_bytes_check CHECK ((octet_length(description) <= 400000)) NOT VALID;
ALTER TABLE public.tasks ADD CONSTRAINT description_strict_length_check CHECK ((char_length(description) <= 100000)) NOT VALID;
ALTER TABLE public.tasks ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 4096)) NOT VALID;
ALTER TABLE public.tasks ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 1024)) NOT VALID;
ALTER TABLE public.tasks ADD CONSTRAINT tasks_estimation_points_check CHECK (((estimation_points >= 0) AND (estimation_points <= 8)));
ALTER TABLE public.task_lists ADD CONSTRAINT color_strict_bytes_check CHECK ((octet_length(color) <= 256)) NOT VALID;
ALTER TABLE public.task_lists ADD CONSTRAINT color_strict_length_check CHECK ((char_length(color) <= 64)) NOT VALID;
ALTER TABLE public.task_lists ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 512)) NOT VALID;
ALTER TABLE public.task_lists ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 128)) NOT VALID;
ALTER TABLE public.workspace_boards ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 512)) NOT VALID;
ALTER TABLE public.workspace_boards ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 128)) NOT VALID;
ALTER TABLE public.workspace_boards ADD CONSTRAINT ticket_prefix_strict_bytes_check CHECK ((octet_length(ticket_prefix) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_boards ADD CONSTRAINT ticket_prefix_strict_length_check CHECK ((char_length(ticket_prefix) <= 1000)) NOT VALID;
ALTER TABLE public.task_calendar_events ADD CONSTRAINT scheduling_reason_strict_bytes_check CHECK ((octet_length(scheduling_reason) <= 2048)) NOT VALID;
ALTER TABLE public.task_calendar_events ADD CONSTRAINT scheduling_reason_strict_length_check CHECK ((char_length(scheduling_reason) <= 512)) NOT VALID;
ALTER TABLE public.workspace_encryption_keys ADD CONSTRAINT encrypted_key_strict_bytes_check CHECK ((octet_length(encrypted_key) <= 4000)) NOT VALID;
ALTER TABLE public.workspace_encryption_keys ADD CONSTRAINT encrypted_key_strict_length_check CHECK ((char_length(encrypted_key) <= 1000)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT color_strict_bytes_check CHECK ((octet_length(color) <= 256)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT color_strict_length_check CHECK ((char_length(color) <= 64)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT description_strict_bytes_check CHECK ((octet_length(description) <= 2048)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT description_strict_length_check CHECK ((char_length(description) <= 512)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT name_strict_bytes_check CHECK ((octet_length(name) <= 512)) NOT VALID;
ALTER TABLE private.workspace_calendars ADD CONSTRAINT name_strict_length_check CHECK ((char_length(name) <= 128)) NOT VALID;
ALTER TABLE private.calendar_user_workspace_preferences ADD CONSTRAINT calendar_user_workspace_preferences_conflict_policy_check CHECK ((conflict_policy = 'latest_write_wins'::text));
ALTER TABLE private.calendar_user_workspace_preferences ADD CONSTRAINT calendar_user_workspace_preferences_source_check CHECK ((((default_provider = 'tuturuuu'::calendar_provider) AND (default_workspace_calendar_id IS NOT NULL) AND (default_calendar_connection_id IS NULL)) OR ((default_provider = ANY (ARRAY['google'::calendar_provider, 'microsoft'::calendar_provider])) AND (default_workspace_calendar_id IS NULL) AND (default_calendar_connection_id IS NOT NULL))));

-- Non-unique indexes: exactly production's.
CREATE INDEX ON public.workspaces USING btree (created_at DESC);
CREATE INDEX ON public.users USING btree (created_at DESC);
CREATE INDEX ON public.workspace_calendar_events USING btree (end_at);
CREATE INDEX ON public.workspace_calendar_events USING btree (start_at);
CREATE INDEX ON public.workspace_calendar_events USING btree (task_id) WHERE (task_id IS NOT NULL);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, provider, external_calendar_id, external_event_id);
CREATE INDEX ON public.workspace_calendar_events USING btree (google_calendar_id);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, provider);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, scheduling_source);
CREATE INDEX ON public.workspace_calendar_events USING btree (source_calendar_id);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, google_calendar_id);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, last_synced_at);
CREATE INDEX ON public.workspace_calendar_events USING btree (ws_id, sync_status);
CREATE INDEX ON public.calendar_connections USING btree (auth_token_id);
CREATE INDEX ON public.calendar_connections USING btree (workspace_calendar_id);
CREATE INDEX ON public.calendar_sync_states USING btree (calendar_id);
CREATE INDEX ON public.calendar_sync_states USING btree (ws_id);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (status);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (triggered_by);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (ws_id);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (error_type) WHERE (error_type IS NOT NULL);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (timing_total_ms) WHERE (timing_total_ms IS NOT NULL);
CREATE INDEX ON public.calendar_sync_dashboard USING btree (triggered_from) WHERE (triggered_from IS NOT NULL);
CREATE INDEX ON public.workspace_habits USING btree (ws_id, is_active) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.workspace_habits USING btree (ws_id, auto_schedule) WHERE ((is_active = true) AND (deleted_at IS NULL));
CREATE INDEX ON public.workspace_habits USING btree (creator_id) WHERE (creator_id IS NOT NULL);
CREATE INDEX ON public.workspace_habits USING btree (ws_id);
CREATE INDEX ON public.habit_calendar_events USING btree (habit_id, occurrence_date);
CREATE INDEX ON public.habit_calendar_events USING btree (event_id);
CREATE INDEX ON public.habit_calendar_events USING btree (habit_id);
CREATE INDEX ON public.habit_skipped_occurrences USING btree (ws_id, occurrence_date) WHERE (revoked_at IS NULL);
CREATE INDEX ON public.habit_skipped_occurrences USING btree (ws_id, habit_id, occurrence_date);
CREATE INDEX ON public.tasks USING btree (list_id, sort_key) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.tasks USING btree (closed_at) WHERE (closed_at IS NOT NULL);
CREATE INDEX ON public.tasks USING btree (completed_at) WHERE (completed_at IS NOT NULL);
CREATE INDEX ON public.tasks USING btree (deleted_at) WHERE (deleted_at IS NOT NULL);
CREATE INDEX ON public.tasks USING gin (fts);
CREATE INDEX ON public.tasks USING btree (list_id, end_date) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.tasks USING btree (list_id, estimation_points) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.tasks USING btree (list_id, priority) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.task_lists USING btree (board_id, status);
CREATE INDEX ON public.task_lists USING btree (status);
CREATE INDEX ON public.workspace_boards USING btree (archived_at) WHERE (archived_at IS NULL);
CREATE INDEX ON public.workspace_boards USING btree (deleted_at) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.workspace_boards USING btree (default_closed_list_id) WHERE (default_closed_list_id IS NOT NULL);
CREATE INDEX ON public.workspace_boards USING btree (default_done_list_id) WHERE (default_done_list_id IS NOT NULL);
CREATE INDEX ON public.workspace_boards USING btree (default_list_id);
CREATE INDEX ON public.workspace_boards USING btree (ws_id, id) WHERE (deleted_at IS NULL);
CREATE INDEX ON public.task_user_scheduling_settings USING btree (user_id);
CREATE INDEX ON public.task_calendar_events USING btree (event_id);
CREATE INDEX ON public.task_calendar_events USING btree (task_id);
CREATE INDEX ON public.workspace_encryption_keys USING btree (ws_id);
CREATE INDEX ON private.workspace_calendars USING btree (ws_id, is_enabled) WHERE (is_enabled = true);
CREATE INDEX ON private.workspace_calendars USING btree (ws_id);
CREATE INDEX ON private.calendar_user_workspace_preferences USING btree (default_outbound_calendar_connection_id);

-- Foreign keys.
ALTER TABLE public.workspaces ADD FOREIGN KEY (creator_id) REFERENCES users(id) ON UPDATE CASCADE;
ALTER TABLE public.workspace_calendar_events ADD FOREIGN KEY (color) REFERENCES calendar_event_colors(value) ON DELETE SET DEFAULT;
ALTER TABLE public.workspace_calendar_events ADD FOREIGN KEY (source_calendar_id) REFERENCES private.workspace_calendars(id) ON DELETE SET NULL;
ALTER TABLE public.workspace_calendar_events ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE public.calendar_auth_tokens ADD FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.calendar_auth_tokens ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.calendar_connections ADD FOREIGN KEY (auth_token_id) REFERENCES calendar_auth_tokens(id) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE public.calendar_connections ADD FOREIGN KEY (workspace_calendar_id) REFERENCES private.workspace_calendars(id) ON DELETE SET NULL;
ALTER TABLE public.calendar_connections ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.calendar_sync_states ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE public.calendar_sync_dashboard ADD FOREIGN KEY (triggered_by) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.calendar_sync_dashboard ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.workspace_calendar_hour_settings ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE public.workspace_habits ADD FOREIGN KEY (creator_id) REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE public.workspace_habits ADD FOREIGN KEY (dependency_habit_id) REFERENCES workspace_habits(id) ON DELETE SET NULL;
ALTER TABLE public.workspace_habits ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE public.habit_calendar_events ADD FOREIGN KEY (event_id) REFERENCES workspace_calendar_events(id) ON DELETE CASCADE;
ALTER TABLE public.habit_calendar_events ADD FOREIGN KEY (habit_id) REFERENCES workspace_habits(id) ON DELETE CASCADE;
ALTER TABLE public.habit_skipped_occurrences ADD FOREIGN KEY (habit_id) REFERENCES workspace_habits(id) ON DELETE CASCADE;
ALTER TABLE public.habit_skipped_occurrences ADD FOREIGN KEY (source_event_id) REFERENCES workspace_calendar_events(id) ON DELETE SET NULL;
ALTER TABLE public.habit_skipped_occurrences ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE public.tasks ADD FOREIGN KEY (board_id) REFERENCES workspace_boards(id) ON DELETE CASCADE;
ALTER TABLE public.tasks ADD FOREIGN KEY (creator_id) REFERENCES users(id);
ALTER TABLE public.tasks ADD FOREIGN KEY (list_id) REFERENCES task_lists(id) ON DELETE CASCADE;
ALTER TABLE public.task_lists ADD FOREIGN KEY (board_id) REFERENCES workspace_boards(id) ON DELETE CASCADE;
ALTER TABLE public.task_lists ADD FOREIGN KEY (creator_id) REFERENCES users(id);
ALTER TABLE public.workspace_boards ADD FOREIGN KEY (creator_id) REFERENCES users(id);
ALTER TABLE public.workspace_boards ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE public.task_user_scheduling_settings ADD FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE;
ALTER TABLE public.task_user_scheduling_settings ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE public.task_calendar_events ADD FOREIGN KEY (event_id) REFERENCES workspace_calendar_events(id) ON DELETE CASCADE;
ALTER TABLE public.task_calendar_events ADD FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE;
ALTER TABLE public.workspace_encryption_keys ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE private.workspace_calendars ADD FOREIGN KEY (color) REFERENCES calendar_event_colors(value);
ALTER TABLE private.workspace_calendars ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE private.calendar_user_workspace_preferences ADD FOREIGN KEY (default_calendar_connection_id) REFERENCES calendar_connections(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE private.calendar_user_workspace_preferences ADD FOREIGN KEY (default_outbound_calendar_connection_id) REFERENCES calendar_connections(id) ON UPDATE CASCADE ON DELETE SET NULL;
ALTER TABLE private.calendar_user_workspace_preferences ADD FOREIGN KEY (default_workspace_calendar_id) REFERENCES private.workspace_calendars(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE private.calendar_user_workspace_preferences ADD FOREIGN KEY (user_id) REFERENCES users(id) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE private.calendar_user_workspace_preferences ADD FOREIGN KEY (ws_id) REFERENCES workspaces(id) ON UPDATE CASCADE ON DELETE CASCADE;

-- Triggers.
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.workspaces
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '63', '252',
    'handle', '80', '320',
    'avatar_url', '2048', '2048',
    'logo_url', '2048', '2048',
    'timezone', '64', '256',
    'first_day_of_week', '1000', '4000',
    'energy_profile', '1000', '4000',
    'scheduling_settings', '', '65536'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'display_name', '64', '256',
    'avatar_url', '2048', '2048',
    'handle', '80', '320',
    'bio', '160', '640'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.workspace_calendar_events
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'title', '255', '1020',
    'description', '10000', '40000',
    'color', '64', '256',
    'location', '1000', '4000',
    'google_event_id', '1000', '4000',
    'google_calendar_id', '1000', '4000',
    'external_calendar_id', '1000', '4000',
    'external_event_id', '1000', '4000',
    'scheduling_metadata', '', '16384',
    'sync_status', '64', '256',
    'sync_error', '1000', '4000'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.calendar_auth_tokens
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'provider', '64', '256',
    'account_email', '320', '320',
    'account_name', '128', '512'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.calendar_connections
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'calendar_id', '1000', '4000',
    'calendar_name', '128', '512',
    'color', '64', '256',
    'provider', '64', '256',
    'access_role', '1000', '4000'
);
CREATE TRIGGER update_calendar_connections_updated_at BEFORE UPDATE ON public.calendar_connections
    FOR EACH ROW EXECUTE FUNCTION public.update_calendar_connections_updated_at();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.calendar_sync_states
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'calendar_id', '1000', '4000',
    'sync_token', '2048', '4096'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.calendar_sync_dashboard
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'type', '64', '256',
    'source', '1000', '4000',
    'status', '64', '256',
    'google_api_error_code', '80', '320',
    'error_message', '512', '2048',
    'error_type', '64', '256',
    'error_stack_trace', '1000', '4000',
    'failed_event_ids', '', '8192',
    'triggered_from', '1000', '4000'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.workspace_habits
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '128', '512',
    'description', '512', '2048',
    'color', '64', '256',
    'dependency_type', '64', '256'
);
CREATE TRIGGER workspace_habits_updated_at BEFORE UPDATE ON public.workspace_habits
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.habit_calendar_events
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'scheduling_reason', '512', '2048'
);
CREATE TRIGGER habit_calendar_events_updated_at BEFORE UPDATE ON public.habit_calendar_events
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER habit_skipped_occurrences_updated_at BEFORE UPDATE ON public.habit_skipped_occurrences
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.tasks
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '1024', '4096',
    'description', '100000', '400000'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.task_lists
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '128', '512',
    'color', '64', '256'
);
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.workspace_boards
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '128', '512',
    'ticket_prefix', '1000', '4000'
);
CREATE TRIGGER trg_task_user_scheduling_settings_updated_at BEFORE UPDATE ON public.task_user_scheduling_settings
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.task_calendar_events
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'scheduling_reason', '512', '2048'
);
CREATE TRIGGER task_calendar_events_updated_at BEFORE UPDATE ON public.task_calendar_events
    FOR EACH ROW EXECUTE FUNCTION public.update_task_calendar_events_updated_at();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON public.workspace_encryption_keys
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'encrypted_key', '1000', '4000'
);
CREATE TRIGGER trigger_update_workspace_encryption_keys_updated_at BEFORE UPDATE ON public.workspace_encryption_keys
    FOR EACH ROW EXECUTE FUNCTION public.update_workspace_encryption_keys_updated_at();
CREATE TRIGGER enforce_strict_text_field_limits BEFORE INSERT OR UPDATE ON private.workspace_calendars
    FOR EACH ROW EXECUTE FUNCTION public.enforce_strict_text_field_limits(
    'name', '128', '512',
    'description', '512', '2048',
    'color', '64', '256'
);
CREATE TRIGGER calendar_user_workspace_preferences_updated_at BEFORE UPDATE ON private.calendar_user_workspace_preferences
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();

-- Row-level security.
ALTER TABLE public.workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_calendar_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.calendar_auth_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.calendar_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.calendar_sync_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.calendar_sync_dashboard ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_calendar_hour_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_habits ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.habit_calendar_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.habit_skipped_occurrences ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.task_lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_boards ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.task_user_scheduling_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.task_calendar_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.workspace_encryption_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE private.workspace_calendars ENABLE ROW LEVEL SECURITY;
ALTER TABLE private.calendar_user_workspace_preferences ENABLE ROW LEVEL SECURITY;

-- Production tables the facts file does not describe, as the original jobs use them
-- (design §10.1): the scheduler's run record and the function that writes it, executable
-- only by its owner (production: `postgres` and `service_role`).
CREATE TABLE public.workspace_calendar_sync_coordination (
    ws_id uuid PRIMARY KEY REFERENCES public.workspaces (id) ON DELETE CASCADE,
    last_upsert timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz DEFAULT now(),
    updated_at timestamptz DEFAULT now()
);
ALTER TABLE public.workspace_calendar_sync_coordination ENABLE ROW LEVEL SECURITY;

CREATE TABLE private.workspace_scheduling_metadata (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ws_id uuid NOT NULL UNIQUE REFERENCES public.workspaces (id) ON DELETE CASCADE,
    last_scheduled_at timestamptz,
    last_status text,
    last_message text,
    habits_scheduled integer DEFAULT 0,
    tasks_scheduled integer DEFAULT 0,
    events_created integer DEFAULT 0,
    bumped_habits integer DEFAULT 0,
    window_days integer DEFAULT 30,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE private.workspace_scheduling_metadata ENABLE ROW LEVEL SECURITY;

CREATE FUNCTION private.upsert_scheduling_metadata(
    p_ws_id uuid,
    p_status text,
    p_message text,
    p_habits_scheduled integer,
    p_tasks_scheduled integer,
    p_events_created integer,
    p_bumped_habits integer,
    p_window_days integer
) RETURNS void
LANGUAGE sql
AS $fn$
    INSERT INTO private.workspace_scheduling_metadata AS m (
        ws_id, last_scheduled_at, last_status, last_message, habits_scheduled,
        tasks_scheduled, events_created, bumped_habits, window_days
    )
    VALUES (
        p_ws_id, now(), p_status, p_message, p_habits_scheduled,
        p_tasks_scheduled, p_events_created, p_bumped_habits, p_window_days
    )
    ON CONFLICT (ws_id) DO UPDATE SET
        last_scheduled_at = now(),
        last_status = excluded.last_status,
        last_message = excluded.last_message,
        habits_scheduled = excluded.habits_scheduled,
        tasks_scheduled = excluded.tasks_scheduled,
        events_created = excluded.events_created,
        bumped_habits = excluded.bumped_habits,
        window_days = excluded.window_days,
        updated_at = now();
$fn$;
REVOKE EXECUTE ON FUNCTION private.upsert_scheduling_metadata(
    uuid, text, text, integer, integer, integer, integer, integer) FROM PUBLIC;
END
$mirror$;
